// The outbox (staff): every message, and the addresses that bounce, each a
// page at a time.
import { graphql } from 'relay-runtime';

export const query = graphql`
  query EmailOutboxQuery($filter: EmailDeliveryFilter) {
    ...EmailOutbox_deliveries @arguments(filter: $filter)
    ...EmailOutbox_bounces
  }
`;

export const deliveriesFragment = graphql`
  fragment EmailOutbox_deliveries on Query
  @argumentDefinitions(
    count: { type: "Int", defaultValue: 50 }
    cursor: { type: "String" }
    filter: { type: "EmailDeliveryFilter" }
  )
  @refetchable(queryName: "EmailOutboxDeliveriesPaginationQuery") {
    emailDeliveries(filter: $filter, first: $count, after: $cursor)
      @connection(key: "EmailOutbox_emailDeliveries", filters: ["filter"]) {
      totalCount
      edges {
        node {
          id
          ...EmailDelivery_emailDelivery
        }
      }
    }
  }
`;

// BouncingAddress is not a Node (it has no id): its records are keyed by
// their path in the store.
export const bouncesFragment = graphql`
  fragment EmailOutbox_bounces on Query
  @argumentDefinitions(
    count: { type: "Int", defaultValue: 50 }
    cursor: { type: "String" }
  )
  @refetchable(queryName: "EmailOutboxBouncesPaginationQuery") {
    bouncingAddresses(first: $count, after: $cursor)
      @connection(key: "EmailOutbox_bouncingAddresses") {
      totalCount
      edges {
        node {
          email
          reason
          bouncedAt
        }
      }
    }
  }
`;
