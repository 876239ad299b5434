// A co-op's response to a survey (SurveyResponse is a Node).
import { graphql } from 'relay-runtime';

export const surveyResponseFragment = graphql`
  fragment SurveyResponse_surveyResponse on SurveyResponse
  @refetchable(queryName: "SurveyResponseRefetchQuery") {
    id
    submittedAt
    updatedAt
    answers {
      questionId
      text
      number
      choices
    }
    needs {
      id
      name
    }
    organisation {
      id
      name
    }
    survey {
      id
      title
    }
    supportRequest {
      id
      status
    }
  }
`;
