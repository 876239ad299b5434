// Engagements in the home order (staff: all; a provider: their own; a
// member: their co-op's), a page at a time, with each one's next meeting.
import { graphql } from 'relay-runtime';

export const query = graphql`
  query EngagementListQuery($filter: EngagementFilterInput) {
    ...EngagementList_query @arguments(filter: $filter)
  }
`;

export const listFragment = graphql`
  fragment EngagementList_query on Query
  @argumentDefinitions(
    count: { type: "Int", defaultValue: 20 }
    cursor: { type: "String" }
    filter: { type: "EngagementFilterInput" }
  )
  @refetchable(queryName: "EngagementListPaginationQuery") {
    engagements(filter: $filter, first: $count, after: $cursor)
      @connection(key: "EngagementList_engagements", filters: ["filter"]) {
      totalCount
      edges {
        node {
          id
          status
          daysRemaining
          nextMeeting {
            id
            startsAt
            otherParty
          }
          lastMeeting {
            id
            startsAt
          }
          ...Engagement_engagement
        }
      }
    }
  }
`;

// A provider's engagements, on the provider's page.
export const providerEngagementsFragment = graphql`
  fragment EngagementList_provider on Provider
  @argumentDefinitions(
    count: { type: "Int", defaultValue: 20 }
    cursor: { type: "String" }
  )
  @refetchable(queryName: "EngagementListProviderPaginationQuery") {
    engagements(first: $count, after: $cursor)
      @connection(key: "EngagementList_engagements") {
      edges {
        node {
          id
          status
        }
      }
    }
  }
`;

// A co-op's engagements, on the co-op's page.
export const organisationEngagementsFragment = graphql`
  fragment EngagementList_organisation on Organisation
  @argumentDefinitions(
    count: { type: "Int", defaultValue: 20 }
    cursor: { type: "String" }
  )
  @refetchable(queryName: "EngagementListOrganisationPaginationQuery") {
    engagements(first: $count, after: $cursor)
      @connection(key: "EngagementList_engagements") {
      edges {
        node {
          id
          status
        }
      }
    }
  }
`;

// The viewer's meetings to come, across their engagements.
export const upcomingFragment = graphql`
  fragment EngagementList_upcoming on User
  @argumentDefinitions(
    count: { type: "Int", defaultValue: 20 }
    cursor: { type: "String" }
  )
  @refetchable(queryName: "EngagementListUpcomingPaginationQuery") {
    upcomingMeetings(first: $count, after: $cursor)
      @connection(key: "EngagementList_upcomingMeetings") {
      edges {
        node {
          id
          startsAt
          otherParty
        }
      }
    }
  }
`;
