//! How often one client address may ask without an account. Two allowances
//! use this: every anonymous request (GraphQL, and the pages behind emailed
//! links), so that one address cannot keep the server's cores busy with
//! requests that are each cheap but many; and every anonymous write (GraphQL
//! mutation fields such as `requestSignIn`, and the pages' form posts), the
//! ones that can send email or change something. A generic cell rate
//! (governor's GCRA) per address: a burst passes, then one more per interval.
//!
//! The counts live in this process: two API processes each allow the full
//! rate. What they protect against (an inbox flooded, a form posted in a
//! loop) is bounded all the same; the per-address sign-in allowance, which
//! must hold across processes, is kept in the database (`crate::auth`).
//!
//! IPv6 clients are counted per /64, the block one subscriber usually gets,
//! so walking through one's own addresses does not reset the count.

use std::{net::IpAddr, num::NonZeroU32, time::Duration};

use governor::{
    DefaultKeyedRateLimiter, Quota, RateLimiter,
    clock::{Clock, DefaultClock},
};

/// How long a refused client should wait, rounded up to whole seconds (the
/// unit of `Retry-After`, RFC 9110 §10.2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryAfter(Duration);

impl RetryAfter {
    pub fn seconds(&self) -> u64 {
        self.0.as_secs() + u64::from(self.0.subsec_nanos() > 0)
    }
}

/// The key an address is counted under (by the rate limit here and the
/// per-client connection cap in `http::serve`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClientKey {
    V4([u8; 4]),
    /// The first 64 bits of an IPv6 address.
    V6([u8; 8]),
}

impl From<IpAddr> for ClientKey {
    fn from(address: IpAddr) -> Self {
        match address {
            IpAddr::V4(v4) => ClientKey::V4(v4.octets()),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => ClientKey::V4(v4.octets()),
                None => {
                    let octets = v6.octets();
                    let mut prefix = [0u8; 8];
                    prefix.copy_from_slice(&octets[..8]);
                    ClientKey::V6(prefix)
                }
            },
        }
    }
}

/// One allowance, kept for every client address.
pub struct ClientAllowance {
    limiter: DefaultKeyedRateLimiter<ClientKey>,
    clock: DefaultClock,
    per_minute: u32,
}

impl std::fmt::Debug for ClientAllowance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientAllowance")
            .field("per_minute", &self.per_minute)
            .field("addresses", &self.limiter.len())
            .finish()
    }
}

impl ClientAllowance {
    /// `per_minute` a minute per address, of which `burst` may come at once.
    pub fn new(per_minute: u32, burst: u32) -> Self {
        let per_minute = NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
        Self {
            limiter: RateLimiter::keyed(Quota::per_minute(per_minute).allow_burst(burst)),
            clock: DefaultClock::default(),
            per_minute: per_minute.get(),
        }
    }

    /// Takes `amount` from `client`'s allowance, or says how long to wait.
    /// Nothing is taken when the whole amount does not fit.
    pub fn take(&self, client: IpAddr, amount: u32) -> Result<(), RetryAfter> {
        let Some(amount) = NonZeroU32::new(amount) else {
            return Ok(());
        };
        match self.limiter.check_key_n(&ClientKey::from(client), amount) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(not_until)) => Err(RetryAfter(not_until.wait_time_from(self.clock.now()))),
            // More than the whole burst in one go: never passes.
            Err(_) => Err(RetryAfter(Duration::from_secs(60))),
        }
    }

    /// Forgets addresses whose allowance is full again, so the table holds
    /// only the last minute's clients (run now and then).
    pub fn forget_idle(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_passes_then_the_client_waits() {
        let writes = ClientAllowance::new(5, 5);
        let client: IpAddr = "192.0.2.7".parse().unwrap();
        let other: IpAddr = "192.0.2.8".parse().unwrap();
        assert_eq!(writes.take(client, 3), Ok(()));
        assert_eq!(writes.take(client, 2), Ok(()));
        let wait = writes.take(client, 1).unwrap_err();
        assert!((1..=12).contains(&wait.seconds()), "{wait:?}");
        assert_eq!(writes.take(other, 5), Ok(()), "each address has its own");
        assert!(writes.take(other, 6).is_err(), "more than a minute's worth");
    }

    #[test]
    fn a_smaller_burst_spreads_the_minute_out() {
        let requests = ClientAllowance::new(600, 60);
        let client: IpAddr = "192.0.2.9".parse().unwrap();
        assert_eq!(requests.take(client, 60), Ok(()));
        let wait = requests.take(client, 1).unwrap_err();
        assert_eq!(wait.seconds(), 1, "one more every tenth of a second");
    }

    #[test]
    fn ipv6_addresses_count_per_64_block() {
        let writes = ClientAllowance::new(2, 2);
        let first: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let neighbour: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let elsewhere: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(writes.take(first, 2), Ok(()));
        assert!(writes.take(neighbour, 1).is_err());
        assert_eq!(writes.take(elsewhere, 1), Ok(()));
    }
}
