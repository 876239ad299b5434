// A mentor or adviser (Provider is a Node), with its home co-op followed as an object.
import { graphql } from 'relay-runtime';

export const providerFragment = graphql`
  fragment Provider_provider on Provider
  @refetchable(queryName: "ProviderRefetchQuery") {
    id
    name
    kind
    bio
    firmName
    active
    capacity
    placesFree
    regions
    formats
    reviewAverage
    reviewCount
    days {
      planned
      delivered
    }
    homeOrganisation {
      id
      name
      region
    }
    topics {
      id
      ...Topic_topic
    }
    sectors {
      id
      ...Sector_sector
    }
    user {
      id
      name
    }
  }
`;
