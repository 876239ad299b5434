//! Who is on the other end of a connection, for rate limits and logs.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::{
    extract::{ConnectInfo, FromRequestParts},
    http::{HeaderMap, request::Parts},
};

use crate::state::AppState;

/// The client's address: the connection's peer, or, when
/// `HIVE_TRUST_FORWARDED_FOR` says Hive sits behind a reverse proxy, the last
/// address in `X-Forwarded-For` (the one that proxy appended; the ones before
/// it are whatever the client claimed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddress(pub IpAddr);

impl ClientAddress {
    /// Reads the address from a request's parts.
    pub fn of(headers: &HeaderMap, peer: Option<SocketAddr>, trust_forwarded_for: bool) -> Self {
        let forwarded = trust_forwarded_for
            .then(|| last_forwarded_for(headers))
            .flatten();
        let address = forwarded
            .or(peer.map(|peer| peer.ip()))
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        Self(address)
    }
}

/// The last address of the last `X-Forwarded-For` header, if it parses.
fn last_forwarded_for(headers: &HeaderMap) -> Option<IpAddr> {
    let value = headers.get_all("x-forwarded-for").iter().next_back()?;
    let last = value.to_str().ok()?.rsplit(',').next()?.trim();
    last.parse().ok()
}

impl FromRequestParts<AppState> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|info| info.0);
        Ok(Self::of(
            &parts.headers,
            peer,
            state.settings.limits.trust_forwarded_for,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_proxy_appended_address_is_used_only_when_trusted() {
        let peer: SocketAddr = "10.0.0.1:5000".parse().unwrap();
        let mut headers = HeaderMap::new();
        headers.append("x-forwarded-for", "1.2.3.4, 203.0.113.9".parse().unwrap());
        assert_eq!(
            ClientAddress::of(&headers, Some(peer), true).0.to_string(),
            "203.0.113.9"
        );
        assert_eq!(
            ClientAddress::of(&headers, Some(peer), false).0.to_string(),
            "10.0.0.1"
        );
        headers.insert("x-forwarded-for", "not an address".parse().unwrap());
        assert_eq!(
            ClientAddress::of(&headers, Some(peer), true).0.to_string(),
            "10.0.0.1"
        );
    }
}
