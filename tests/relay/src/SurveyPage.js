// One survey's page: the survey, its questions and its responses.
import { graphql } from 'relay-runtime';

export const query = graphql`
  query SurveyPageQuery($id: ID!) {
    survey(id: $id) {
      id
      ...Survey_survey
      ...Survey_responses
    }
  }
`;
