// A safeguarding concern (Concern is a Node).
import { graphql } from 'relay-runtime';

export const concernFragment = graphql`
  fragment Concern_concern on Concern
  @refetchable(queryName: "ConcernRefetchQuery") {
    id
    category
    status
    details
    outcome
    createdAt
    resolvedAt
    raisedBy {
      id
      name
    }
    engagement {
      id
      status
      provider {
        id
        name
      }
    }
  }
`;
