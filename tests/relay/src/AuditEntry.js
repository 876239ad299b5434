// One line of the audit trail (AuditEntry is a Node; staff only). Its
// subject is any Node, or null when it is gone or not a Node. The status
// fields are aliased: each Node type's `status` is its own enum, and one
// selection may not merge fields of different types.
import { graphql } from 'relay-runtime';

export const auditEntryFragment = graphql`
  fragment AuditEntry_auditEntry on AuditEntry
  @refetchable(queryName: "AuditEntryRefetchQuery") {
    id
    action
    detail
    subjectType
    createdAt
    actor {
      id
      name
      role
    }
    subject {
      __typename
      id
      ... on User {
        name
        role
      }
      ... on Organisation {
        name
      }
      ... on Provider {
        name
        kind
      }
      ... on SupportRequest {
        requestStatus: status
      }
      ... on Engagement {
        engagementStatus: status
      }
      ... on Meeting {
        startsAt
        meetingStatus: status
      }
      ... on Concern {
        category
        concernStatus: status
      }
      ... on Review {
        party
        submittedAt
      }
      ... on Survey {
        title
        surveyStatus: status
      }
      ... on Topic {
        name
      }
      ... on Sector {
        name
      }
      ... on EmailDelivery {
        recipient
        deliveryStatus: status
      }
    }
  }
`;
