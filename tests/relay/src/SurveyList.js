// Every survey, optionally of one status, a page at a time.
import { graphql } from 'relay-runtime';

export const query = graphql`
  query SurveyListQuery($status: SurveyStatus) {
    ...SurveyList_query @arguments(status: $status)
  }
`;

export const listFragment = graphql`
  fragment SurveyList_query on Query
  @argumentDefinitions(
    count: { type: "Int", defaultValue: 20 }
    cursor: { type: "String" }
    status: { type: "SurveyStatus" }
  )
  @refetchable(queryName: "SurveyListPaginationQuery") {
    surveys(status: $status, first: $count, after: $cursor)
      @connection(key: "SurveyList_surveys", filters: ["status"]) {
      totalCount
      edges {
        node {
          id
          title
          status
          responseCount
          ...Survey_survey
        }
      }
    }
  }
`;
