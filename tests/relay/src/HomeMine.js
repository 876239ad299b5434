// A mentor's, adviser's or member's home screen: what waits on them (actionItems).
import { graphql } from 'relay-runtime';

export const query = graphql`
  query HomeMineQuery {
    ...HomeMine_proposalsAwaitingAnswer
    ...HomeMine_meetingsToRecord
    ...HomeMine_reviewsToGive
    ...HomeMine_surveysToAnswer
  }
`;

export const proposalsAwaitingAnswerFragment = graphql`
  fragment HomeMine_proposalsAwaitingAnswer on Query
  @argumentDefinitions(
    count: { type: "Int", defaultValue: 20 }
    cursor: { type: "String" }
  )
  @refetchable(queryName: "HomeMineProposalsAwaitingAnswerPaginationQuery") {
    actionItems {
      proposalsAwaitingAnswer(first: $count, after: $cursor)
        @connection(key: "HomeMine_proposalsAwaitingAnswer") {
        totalCount
        edges {
          node {
            summary
            waitingSince
            waitingDays
            address
            subject {
              __typename
              id
            }
          }
        }
      }
    }
  }
`;

export const meetingsToRecordFragment = graphql`
  fragment HomeMine_meetingsToRecord on Query
  @argumentDefinitions(
    count: { type: "Int", defaultValue: 20 }
    cursor: { type: "String" }
  )
  @refetchable(queryName: "HomeMineMeetingsToRecordPaginationQuery") {
    actionItems {
      meetingsToRecord(first: $count, after: $cursor)
        @connection(key: "HomeMine_meetingsToRecord") {
        totalCount
        edges {
          node {
            summary
            waitingSince
            waitingDays
            address
            subject {
              __typename
              id
            }
          }
        }
      }
    }
  }
`;

export const reviewsToGiveFragment = graphql`
  fragment HomeMine_reviewsToGive on Query
  @argumentDefinitions(
    count: { type: "Int", defaultValue: 20 }
    cursor: { type: "String" }
  )
  @refetchable(queryName: "HomeMineReviewsToGivePaginationQuery") {
    actionItems {
      reviewsToGive(first: $count, after: $cursor)
        @connection(key: "HomeMine_reviewsToGive") {
        totalCount
        edges {
          node {
            summary
            waitingSince
            waitingDays
            address
            subject {
              __typename
              id
            }
          }
        }
      }
    }
  }
`;

export const surveysToAnswerFragment = graphql`
  fragment HomeMine_surveysToAnswer on Query
  @argumentDefinitions(
    count: { type: "Int", defaultValue: 20 }
    cursor: { type: "String" }
  )
  @refetchable(queryName: "HomeMineSurveysToAnswerPaginationQuery") {
    actionItems {
      surveysToAnswer(first: $count, after: $cursor)
        @connection(key: "HomeMine_surveysToAnswer") {
        totalCount
        edges {
          node {
            summary
            waitingSince
            waitingDays
            address
            subject {
              __typename
              id
            }
          }
        }
      }
    }
  }
`;
