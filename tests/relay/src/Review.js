// One party's review of an engagement (Review is a Node).
import { graphql } from 'relay-runtime';

export const reviewFragment = graphql`
  fragment Review_review on Review @refetchable(queryName: "ReviewRefetchQuery") {
    id
    party
    usefulness
    relationship
    wouldRecommend
    comments
    requestedAt
    remindedAt
    submittedAt
    engagement {
      id
      status
    }
  }
`;
