// A meeting of an engagement (Meeting is a Node).
import { graphql } from 'relay-runtime';

export const meetingFragment = graphql`
  fragment Meeting_meeting on Meeting
  @refetchable(queryName: "MeetingRefetchQuery") {
    id
    sequence
    status
    format
    startsAt
    durationMinutes
    location
    isFinal
    daysCounted
    notes
    learning
    engagement {
      id
      status
    }
  }
`;
