// Any object by its global id (a link such as /node/<id>, or the staff
// digest's): node(id:) with an inline fragment per Node type for the page
// heading; the SPA then renders that type's page, which reads the object
// with its own fragment (each type's <Type>RefetchQuery is node(id:) with
// that fragment).
//
// The types' fragments are not all spread here, even with @alias: GraphQL's
// FieldsInSetCanMerge rule needs fields of one response name in one
// selection to have the same shape whatever their parent type, and the
// Node types share names with different types (`status` is
// SupportRequestStatus!, EngagementStatus!, MeetingStatus!, …; `kind`,
// `category`; `organisation` is Organisation on User but Organisation! on
// SupportRequest). relay-compiler (like graphql-js) rejects that.
import { graphql } from 'relay-runtime';

export const query = graphql`
  query NodeViewQuery($id: ID!) {
    node(id: $id) {
      __typename
      id
      ... on User {
        name
      }
      ... on Organisation {
        name
      }
      ... on Topic {
        name
      }
      ... on Sector {
        name
      }
      ... on Provider {
        name
      }
      ... on SupportRequest {
        createdAt
      }
      ... on Engagement {
        proposedAt
      }
      ... on Meeting {
        startsAt
      }
      ... on Concern {
        createdAt
      }
      ... on Review {
        requestedAt
      }
      ... on EmailDelivery {
        recipient
      }
      ... on Survey {
        title
      }
      ... on SurveyQuestion {
        prompt
      }
      ... on SurveyChoice {
        label
      }
      ... on SurveyResponse {
        submittedAt
      }
      ... on AuditEntry {
        action
      }
    }
  }
`;
