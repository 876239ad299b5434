// One provider's page, and the signed-in person.
import { graphql } from 'relay-runtime';

export const query = graphql`
  query ProviderPageQuery($id: ID!) {
    me {
      id
      ...User_user
    }
    provider(id: $id) {
      id
      ...Provider_provider
    }
  }
`;
