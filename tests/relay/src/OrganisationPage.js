// One co-op's page: the co-op, its members and its requests.
import { graphql } from 'relay-runtime';

export const query = graphql`
  query OrganisationPageQuery($id: ID!) {
    organisation(id: $id) {
      id
      ...Organisation_organisation
      ...Organisation_members @arguments(count: 50)
    }
  }
`;
