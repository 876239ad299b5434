// Staff administration: accounts, topics and sectors, each a connection.
import { graphql } from 'relay-runtime';

export const query = graphql`
  query StaffAdminQuery($role: Role, $includeRetired: Boolean) {
    ...StaffAdmin_users @arguments(role: $role)
    ...StaffAdmin_topics @arguments(includeRetired: $includeRetired)
    ...StaffAdmin_sectors @arguments(includeRetired: $includeRetired)
  }
`;

export const usersFragment = graphql`
  fragment StaffAdmin_users on Query
  @argumentDefinitions(
    count: { type: "Int", defaultValue: 50 }
    cursor: { type: "String" }
    role: { type: "Role" }
  )
  @refetchable(queryName: "StaffAdminUsersPaginationQuery") {
    users(role: $role, first: $count, after: $cursor)
      @connection(key: "StaffAdmin_users", filters: ["role"]) {
      totalCount
      edges {
        node {
          id
          ...User_user
        }
      }
    }
  }
`;

export const topicsFragment = graphql`
  fragment StaffAdmin_topics on Query
  @argumentDefinitions(
    count: { type: "Int", defaultValue: 100 }
    cursor: { type: "String" }
    includeRetired: { type: "Boolean" }
  )
  @refetchable(queryName: "StaffAdminTopicsPaginationQuery") {
    topics(includeRetired: $includeRetired, first: $count, after: $cursor)
      @connection(key: "StaffAdmin_topics", filters: ["includeRetired"]) {
      edges {
        node {
          id
          ...Topic_topic
        }
      }
    }
  }
`;

export const sectorsFragment = graphql`
  fragment StaffAdmin_sectors on Query
  @argumentDefinitions(
    count: { type: "Int", defaultValue: 100 }
    cursor: { type: "String" }
    includeRetired: { type: "Boolean" }
  )
  @refetchable(queryName: "StaffAdminSectorsPaginationQuery") {
    sectors(includeRetired: $includeRetired, first: $count, after: $cursor)
      @connection(key: "StaffAdmin_sectors", filters: ["includeRetired"]) {
      edges {
        node {
          id
          ...Sector_sector
        }
      }
    }
  }
`;
