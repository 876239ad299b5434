// An engagement between a provider and a co-op (Engagement is a Node), with
// its references followed as objects and its meetings and reviews paged.
import { graphql } from 'relay-runtime';

export const engagementFragment = graphql`
  fragment Engagement_engagement on Engagement
  @refetchable(queryName: "EngagementRefetchQuery") {
    id
    status
    daysAllocated
    daysUsed
    feePence
    groundRules
    proposedAt
    respondedAt
    completedAt
    endedAt
    endReason
    declineReason
    provider {
      id
      name
      kind
    }
    supportRequest {
      id
      kind
      organisation {
        id
        name
      }
    }
    rematchOf {
      id
      status
      declineReason
      provider {
        id
        name
      }
    }
    endedBy {
      id
      name
      role
    }
    proposedBy {
      id
      name
    }
  }
`;

export const meetingsFragment = graphql`
  fragment Engagement_meetings on Engagement
  @argumentDefinitions(
    count: { type: "Int", defaultValue: 10 }
    cursor: { type: "String" }
  )
  @refetchable(queryName: "EngagementMeetingsPaginationQuery") {
    meetingsConnection(first: $count, after: $cursor)
      @connection(key: "Engagement_meetingsConnection") {
      totalCount
      edges {
        node {
          id
          ...Meeting_meeting
        }
      }
    }
  }
`;

export const reviewsFragment = graphql`
  fragment Engagement_reviews on Engagement
  @argumentDefinitions(
    count: { type: "Int", defaultValue: 2 }
    cursor: { type: "String" }
  )
  @refetchable(queryName: "EngagementReviewsPaginationQuery") {
    reviewsConnection(first: $count, after: $cursor)
      @connection(key: "Engagement_reviewsConnection") {
      totalCount
      edges {
        node {
          id
          ...Review_review
        }
      }
    }
  }
`;
