// The audit trail (staff), filtered, a page at a time.
import { graphql } from 'relay-runtime';

export const query = graphql`
  query AuditLogQuery($filter: AuditFilter) {
    ...AuditLog_query @arguments(filter: $filter)
  }
`;

export const listFragment = graphql`
  fragment AuditLog_query on Query
  @argumentDefinitions(
    count: { type: "Int", defaultValue: 50 }
    cursor: { type: "String" }
    filter: { type: "AuditFilter" }
  )
  @refetchable(queryName: "AuditLogPaginationQuery") {
    auditLog(filter: $filter, first: $count, after: $cursor)
      @connection(key: "AuditLog_auditLog", filters: ["filter"]) {
      totalCount
      edges {
        node {
          id
          ...AuditEntry_auditEntry
        }
      }
    }
  }
`;
