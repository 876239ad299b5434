// Providers to propose for a request (staff), best first, a page at a time.
import { graphql } from 'relay-runtime';

export const query = graphql`
  query MatchSuggestionsQuery($requestId: ID!) {
    supportRequest(id: $requestId) {
      id
      ...SupportRequest_supportRequest
    }
    ...MatchSuggestions_query @arguments(requestId: $requestId)
  }
`;

export const listFragment = graphql`
  fragment MatchSuggestions_query on Query
  @argumentDefinitions(
    count: { type: "Int", defaultValue: 10 }
    cursor: { type: "String" }
    requestId: { type: "ID!" }
  )
  @refetchable(queryName: "MatchSuggestionsPaginationQuery") {
    matchSuggestionsConnection(requestId: $requestId, first: $count, after: $cursor)
      @connection(key: "MatchSuggestions_matchSuggestionsConnection", filters: ["requestId"]) {
      totalCount
      edges {
        node {
          rank
          score
          summary
          reasons
          provider {
            id
            ...Provider_provider
          }
        }
      }
    }
  }
`;
