// One engagement's page: the engagement, its meetings and its reviews.
import { graphql } from 'relay-runtime';

export const query = graphql`
  query EngagementPageQuery($id: ID!) {
    engagement(id: $id) {
      id
      ...Engagement_engagement
      ...Engagement_meetings
      ...Engagement_reviews
    }
  }
`;
