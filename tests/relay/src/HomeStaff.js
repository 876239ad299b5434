// Staff's home screen: the digest's sections live (actionItems), each a page at a time.
import { graphql } from 'relay-runtime';

export const query = graphql`
  query HomeStaffQuery {
    ...HomeStaff_requestsWaitingForMatch
    ...HomeStaff_unansweredProposals
    ...HomeStaff_engagementsWithoutMeeting
    ...HomeStaff_finalMeetingsWithoutReviews
    ...HomeStaff_openConcerns
    ...HomeStaff_surveyResponseRates
    ...HomeStaff_bouncingAddresses
    ...HomeStaff_undeliveredEmails
  }
`;

export const requestsWaitingForMatchFragment = graphql`
  fragment HomeStaff_requestsWaitingForMatch on Query
  @argumentDefinitions(
    count: { type: "Int", defaultValue: 20 }
    cursor: { type: "String" }
  )
  @refetchable(queryName: "HomeStaffRequestsWaitingForMatchPaginationQuery") {
    actionItems {
      requestsWaitingForMatch(first: $count, after: $cursor)
        @connection(key: "HomeStaff_requestsWaitingForMatch") {
        totalCount
        edges {
          node {
            summary
            waitingSince
            waitingDays
            address
            subject {
              __typename
              id
            }
          }
        }
      }
    }
  }
`;

export const unansweredProposalsFragment = graphql`
  fragment HomeStaff_unansweredProposals on Query
  @argumentDefinitions(
    count: { type: "Int", defaultValue: 20 }
    cursor: { type: "String" }
  )
  @refetchable(queryName: "HomeStaffUnansweredProposalsPaginationQuery") {
    actionItems {
      unansweredProposals(first: $count, after: $cursor)
        @connection(key: "HomeStaff_unansweredProposals") {
        totalCount
        edges {
          node {
            summary
            waitingSince
            waitingDays
            address
            subject {
              __typename
              id
            }
          }
        }
      }
    }
  }
`;

export const engagementsWithoutMeetingFragment = graphql`
  fragment HomeStaff_engagementsWithoutMeeting on Query
  @argumentDefinitions(
    count: { type: "Int", defaultValue: 20 }
    cursor: { type: "String" }
  )
  @refetchable(queryName: "HomeStaffEngagementsWithoutMeetingPaginationQuery") {
    actionItems {
      engagementsWithoutMeeting(first: $count, after: $cursor)
        @connection(key: "HomeStaff_engagementsWithoutMeeting") {
        totalCount
        edges {
          node {
            summary
            waitingSince
            waitingDays
            address
            subject {
              __typename
              id
            }
          }
        }
      }
    }
  }
`;

export const finalMeetingsWithoutReviewsFragment = graphql`
  fragment HomeStaff_finalMeetingsWithoutReviews on Query
  @argumentDefinitions(
    count: { type: "Int", defaultValue: 20 }
    cursor: { type: "String" }
  )
  @refetchable(queryName: "HomeStaffFinalMeetingsWithoutReviewsPaginationQuery") {
    actionItems {
      finalMeetingsWithoutReviews(first: $count, after: $cursor)
        @connection(key: "HomeStaff_finalMeetingsWithoutReviews") {
        totalCount
        edges {
          node {
            summary
            waitingSince
            waitingDays
            address
            subject {
              __typename
              id
            }
          }
        }
      }
    }
  }
`;

export const openConcernsFragment = graphql`
  fragment HomeStaff_openConcerns on Query
  @argumentDefinitions(
    count: { type: "Int", defaultValue: 20 }
    cursor: { type: "String" }
  )
  @refetchable(queryName: "HomeStaffOpenConcernsPaginationQuery") {
    actionItems {
      openConcerns(first: $count, after: $cursor)
        @connection(key: "HomeStaff_openConcerns") {
        totalCount
        edges {
          node {
            summary
            waitingSince
            waitingDays
            address
            subject {
              __typename
              id
            }
          }
        }
      }
    }
  }
`;

export const surveyResponseRatesFragment = graphql`
  fragment HomeStaff_surveyResponseRates on Query
  @argumentDefinitions(
    count: { type: "Int", defaultValue: 20 }
    cursor: { type: "String" }
  )
  @refetchable(queryName: "HomeStaffSurveyResponseRatesPaginationQuery") {
    actionItems {
      surveyResponseRates(first: $count, after: $cursor)
        @connection(key: "HomeStaff_surveyResponseRates") {
        totalCount
        edges {
          node {
            summary
            waitingSince
            waitingDays
            address
            subject {
              __typename
              id
            }
          }
        }
      }
    }
  }
`;

export const bouncingAddressesFragment = graphql`
  fragment HomeStaff_bouncingAddresses on Query
  @argumentDefinitions(
    count: { type: "Int", defaultValue: 20 }
    cursor: { type: "String" }
  )
  @refetchable(queryName: "HomeStaffBouncingAddressesPaginationQuery") {
    actionItems {
      bouncingAddresses(first: $count, after: $cursor)
        @connection(key: "HomeStaff_bouncingAddresses") {
        totalCount
        edges {
          node {
            summary
            waitingSince
            waitingDays
            address
            subject {
              __typename
              id
            }
          }
        }
      }
    }
  }
`;

export const undeliveredEmailsFragment = graphql`
  fragment HomeStaff_undeliveredEmails on Query
  @argumentDefinitions(
    count: { type: "Int", defaultValue: 20 }
    cursor: { type: "String" }
  )
  @refetchable(queryName: "HomeStaffUndeliveredEmailsPaginationQuery") {
    actionItems {
      undeliveredEmails(first: $count, after: $cursor)
        @connection(key: "HomeStaff_undeliveredEmails") {
        totalCount
        edges {
          node {
            summary
            waitingSince
            waitingDays
            address
            subject {
              __typename
              id
            }
          }
        }
      }
    }
  }
`;
