// The directory of peer mentors and specialist advisers, each list a
// connection paged with usePaginationFragment.
import { graphql } from 'relay-runtime';

export const query = graphql`
  query ProviderDirectoryQuery($filter: ProviderFilter) {
    ...ProviderDirectory_mentors @arguments(filter: $filter)
    ...ProviderDirectory_advisers @arguments(filter: $filter)
  }
`;

export const mentorsFragment = graphql`
  fragment ProviderDirectory_mentors on Query
  @argumentDefinitions(
    count: { type: "Int", defaultValue: 20 }
    cursor: { type: "String" }
    filter: { type: "ProviderFilter" }
  )
  @refetchable(queryName: "ProviderDirectoryMentorsPaginationQuery") {
    mentors(filter: $filter, first: $count, after: $cursor)
      @connection(key: "ProviderDirectory_mentors", filters: ["filter"]) {
      totalCount
      edges {
        node {
          id
          ...Provider_provider
        }
      }
    }
  }
`;

export const advisersFragment = graphql`
  fragment ProviderDirectory_advisers on Query
  @argumentDefinitions(
    count: { type: "Int", defaultValue: 20 }
    cursor: { type: "String" }
    filter: { type: "ProviderFilter" }
  )
  @refetchable(queryName: "ProviderDirectoryAdvisersPaginationQuery") {
    advisers(filter: $filter, first: $count, after: $cursor)
      @connection(key: "ProviderDirectory_advisers", filters: ["filter"]) {
      totalCount
      edges {
        node {
          id
          ...Provider_provider
        }
      }
    }
  }
`;
