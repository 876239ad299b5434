// A topic a co-op can ask about (Topic is a Node).
import { graphql } from 'relay-runtime';

export const topicFragment = graphql`
  fragment Topic_topic on Topic @refetchable(queryName: "TopicRefetchQuery") {
    id
    name
    retired
    createdAt
  }
`;
