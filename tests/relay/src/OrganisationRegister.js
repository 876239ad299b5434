// The register of client co-ops (staff), filtered, a page at a time.
import { graphql } from 'relay-runtime';

export const query = graphql`
  query OrganisationRegisterQuery($filter: OrganisationFilter) {
    ...OrganisationRegister_query @arguments(filter: $filter)
  }
`;

export const listFragment = graphql`
  fragment OrganisationRegister_query on Query
  @argumentDefinitions(
    count: { type: "Int", defaultValue: 20 }
    cursor: { type: "String" }
    filter: { type: "OrganisationFilter" }
  )
  @refetchable(queryName: "OrganisationRegisterPaginationQuery") {
    organisations(filter: $filter, first: $count, after: $cursor)
      @connection(key: "OrganisationRegister_organisations", filters: ["filter"]) {
      totalCount
      edges {
        node {
          id
          ...Organisation_organisation
        }
      }
    }
  }
`;
