// A choice of a survey question (SurveyChoice is a Node).
import { graphql } from 'relay-runtime';

export const surveyChoiceFragment = graphql`
  fragment SurveyChoice_surveyChoice on SurveyChoice
  @refetchable(queryName: "SurveyChoiceRefetchQuery") {
    id
    label
    topics {
      id
      name
    }
  }
`;
