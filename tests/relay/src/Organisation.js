// A client co-op (Organisation is a Node), and its members a page at a time.
import { graphql } from 'relay-runtime';

export const organisationFragment = graphql`
  fragment Organisation_organisation on Organisation
  @refetchable(queryName: "OrganisationRefetchQuery") {
    id
    name
    region
    stage
    legalForm
    foundedYear
    membersCount
    contactEmail
    updatedAt
    sector {
      id
      ...Sector_sector
    }
  }
`;

// usePaginationFragment on Organisation.membersConnection.
export const membersFragment = graphql`
  fragment Organisation_members on Organisation
  @argumentDefinitions(
    count: { type: "Int", defaultValue: 20 }
    cursor: { type: "String" }
  )
  @refetchable(queryName: "OrganisationMembersPaginationQuery") {
    membersConnection(first: $count, after: $cursor)
      @connection(key: "Organisation_membersConnection") {
      totalCount
      edges {
        cursor
        node {
          id
          ...User_user
        }
      }
    }
  }
`;
