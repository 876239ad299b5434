// One message in the outbox (EmailDelivery is a Node; staff only).
import { graphql } from 'relay-runtime';

export const emailDeliveryFragment = graphql`
  fragment EmailDelivery_emailDelivery on EmailDelivery
  @refetchable(queryName: "EmailDeliveryRefetchQuery") {
    id
    recipient
    category
    template
    status
    attempts
    lastError
    createdAt
    nextAttemptAt
    sentAt
  }
`;
