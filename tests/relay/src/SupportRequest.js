// A co-op's request for support (SupportRequest is a Node), its engagements
// and its ranked suggestions, each a page at a time.
import { graphql } from 'relay-runtime';

export const supportRequestFragment = graphql`
  fragment SupportRequest_supportRequest on SupportRequest
  @refetchable(queryName: "SupportRequestRefetchQuery") {
    id
    kind
    status
    goals
    preferredFormats
    declineReason
    createdAt
    updatedAt
    organisation {
      id
      name
    }
    topics {
      id
      name
    }
  }
`;

export const engagementsFragment = graphql`
  fragment SupportRequest_engagements on SupportRequest
  @argumentDefinitions(
    count: { type: "Int", defaultValue: 10 }
    cursor: { type: "String" }
  )
  @refetchable(queryName: "SupportRequestEngagementsPaginationQuery") {
    engagementsConnection(first: $count, after: $cursor)
      @connection(key: "SupportRequest_engagementsConnection") {
      totalCount
      edges {
        node {
          id
          ...Engagement_engagement
        }
      }
    }
  }
`;

// Staff only: null with FORBIDDEN for anyone else.
export const suggestionsFragment = graphql`
  fragment SupportRequest_suggestions on SupportRequest
  @argumentDefinitions(
    count: { type: "Int", defaultValue: 10 }
    cursor: { type: "String" }
  )
  @refetchable(queryName: "SupportRequestSuggestionsPaginationQuery") {
    suggestionsConnection(first: $count, after: $cursor)
      @connection(key: "SupportRequest_suggestionsConnection") {
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
