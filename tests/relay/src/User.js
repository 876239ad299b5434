// A person with an account (User is a Node).
import { graphql } from 'relay-runtime';

export const userFragment = graphql`
  fragment User_user on User @refetchable(queryName: "UserRefetchQuery") {
    id
    name
    email
    role
    active
    createdAt
    organisation {
      id
      name
    }
  }
`;
