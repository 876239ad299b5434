// One request's page: the request, its engagements and (for staff) its
// suggestions.
import { graphql } from 'relay-runtime';

export const query = graphql`
  query SupportRequestPageQuery($id: ID!) {
    supportRequest(id: $id) {
      id
      ...SupportRequest_supportRequest
      ...SupportRequest_engagements
      ...SupportRequest_suggestions
    }
  }
`;
