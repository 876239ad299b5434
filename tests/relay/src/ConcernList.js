// Concerns (staff: all; others: those they raised), a page at a time.
import { graphql } from 'relay-runtime';

export const query = graphql`
  query ConcernListQuery($status: ConcernStatus) {
    ...ConcernList_query @arguments(status: $status)
  }
`;

export const listFragment = graphql`
  fragment ConcernList_query on Query
  @argumentDefinitions(
    count: { type: "Int", defaultValue: 20 }
    cursor: { type: "String" }
    status: { type: "ConcernStatus" }
  )
  @refetchable(queryName: "ConcernListPaginationQuery") {
    concernsConnection(status: $status, first: $count, after: $cursor)
      @connection(key: "ConcernList_concernsConnection", filters: ["status"]) {
      totalCount
      edges {
        node {
          id
          ...Concern_concern
        }
      }
    }
  }
`;
