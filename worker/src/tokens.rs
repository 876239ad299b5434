//! Secret tokens: sign-in links, sessions, and later the links that let people
//! answer from an email. Only a hash is stored, so a copy of the database does
//! not let anyone in.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use rand::RngCore;
use sha2::{Digest, Sha256};

/// 256 random bits: comfortably past the 128 the design asks for.
const TOKEN_BYTES: usize = 32;

/// A freshly made secret, to be shown to its owner once and stored as a hash.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretToken(String);

impl std::fmt::Debug for SecretToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretToken(…)")
    }
}

impl SecretToken {
    pub fn generate() -> Self {
        let mut bytes = [0u8; TOKEN_BYTES];
        rand::rng().fill_bytes(&mut bytes);
        Self(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// The text that goes into a link or an `Authorization` header.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// What the database keeps.
    pub fn hash(&self) -> String {
        hash_token(&self.0)
    }
}

/// Hex SHA-256 of a presented token. A plain hash (no salt, no stretching) is
/// right here: the tokens are random and long, so there is nothing to guess.
pub fn hash_token(presented: &str) -> String {
    hex::encode(Sha256::digest(presented.trim().as_bytes()))
}

/// A cheap shape check before touching the database: garbage is refused
/// without a query.
pub fn looks_like_token(presented: &str) -> bool {
    let presented = presented.trim();
    presented.len() == 43
        && presented
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_long_and_hashed() {
        let a = SecretToken::generate();
        let b = SecretToken::generate();
        assert_ne!(a, b);
        assert!(looks_like_token(a.expose()));
        assert_eq!(a.hash(), hash_token(a.expose()));
        assert_eq!(a.hash().len(), 64);
        assert!(!a.hash().contains(a.expose()));
        assert!(!looks_like_token("garbage"));
        assert!(!looks_like_token(&"x".repeat(42)));
    }
}
