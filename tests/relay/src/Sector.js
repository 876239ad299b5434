// A sector of the staff-kept vocabulary (Sector is a Node).
import { graphql } from 'relay-runtime';

export const sectorFragment = graphql`
  fragment Sector_sector on Sector @refetchable(queryName: "SectorRefetchQuery") {
    id
    name
    retired
    createdAt
  }
`;
