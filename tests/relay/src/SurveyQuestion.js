// A question of a survey (SurveyQuestion is a Node).
import { graphql } from 'relay-runtime';

export const surveyQuestionFragment = graphql`
  fragment SurveyQuestion_surveyQuestion on SurveyQuestion
  @refetchable(queryName: "SurveyQuestionRefetchQuery") {
    id
    position
    kind
    prompt
    required
    scaleMin
    scaleMax
    choices {
      id
      ...SurveyChoice_surveyChoice
    }
  }
`;
