// The requests the viewer may see, filtered, a page at a time.
import { graphql } from 'relay-runtime';

export const query = graphql`
  query SupportRequestListQuery($filter: SupportRequestFilter) {
    ...SupportRequestList_query @arguments(filter: $filter)
  }
`;

export const listFragment = graphql`
  fragment SupportRequestList_query on Query
  @argumentDefinitions(
    count: { type: "Int", defaultValue: 20 }
    cursor: { type: "String" }
    filter: { type: "SupportRequestFilter" }
  )
  @refetchable(queryName: "SupportRequestListPaginationQuery") {
    supportRequests(filter: $filter, first: $count, after: $cursor)
      @connection(key: "SupportRequestList_supportRequests", filters: ["filter"]) {
      totalCount
      edges {
        node {
          id
          ...SupportRequest_supportRequest
        }
      }
    }
  }
`;
