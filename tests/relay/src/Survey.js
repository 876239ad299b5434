// A survey (Survey is a Node), its previous wave, its questions (a bounded
// list) and its responses a page at a time.
import { graphql } from 'relay-runtime';

export const surveyFragment = graphql`
  fragment Survey_survey on Survey @refetchable(queryName: "SurveyRefetchQuery") {
    id
    title
    description
    status
    createdAt
    launchedAt
    closesAt
    closedAt
    reminderAfterDays
    invitationCount
    responseCount
    previousWave {
      id
      title
    }
    audience {
      regions
      stages
      sectors {
        id
        name
      }
    }
    questions {
      id
      ...SurveyQuestion_surveyQuestion
    }
  }
`;

export const responsesFragment = graphql`
  fragment Survey_responses on Survey
  @argumentDefinitions(
    count: { type: "Int", defaultValue: 20 }
    cursor: { type: "String" }
  )
  @refetchable(queryName: "SurveyResponsesPaginationQuery") {
    responses(first: $count, after: $cursor)
      @connection(key: "Survey_responses") {
      totalCount
      edges {
        node {
          id
          ...SurveyResponse_surveyResponse
        }
      }
    }
  }
`;
