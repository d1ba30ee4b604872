//! Tokens: made at random, stored as SHA-256, presented as `Authorization:
//! Bearer <token>` or as the password of HTTP Basic (DESIGN §2).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};

/// A new random token: `nexds_` and 64 hex digits (256 bits).
pub fn new_token() -> std::io::Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| std::io::Error::other(e.to_string()))?;
    Ok(format!("nexds_{}", hex::encode(bytes)))
}

/// What the database keeps of a token.
pub fn hash_token(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// The token of an `Authorization` header value, Bearer or Basic.
pub fn token_from_header(value: &str) -> Option<String> {
    let (scheme, rest) = value.trim().split_once(' ')?;
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        return Some(rest.to_owned()).filter(|t| !t.is_empty());
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = STANDARD.decode(rest).ok()?;
        let decoded = String::from_utf8(decoded).ok()?;
        let (_, password) = decoded.split_once(':')?;
        return Some(password.to_owned()).filter(|t| !t.is_empty());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_and_basic_carry_the_token() {
        assert_eq!(token_from_header("Bearer abc").as_deref(), Some("abc"));
        assert_eq!(token_from_header("bearer  abc ").as_deref(), Some("abc"));
        // curl -u x:abc
        assert_eq!(token_from_header("Basic eDphYmM=").as_deref(), Some("abc"));
        assert_eq!(token_from_header("Basic eDo=").as_deref(), None);
        assert_eq!(token_from_header("Digest abc").as_deref(), None);
        assert_eq!(token_from_header("Bearer").as_deref(), None);
    }

    #[test]
    fn tokens_are_long_and_distinct() {
        let a = new_token().unwrap();
        assert_eq!(a.len(), 6 + 64);
        assert_ne!(a, new_token().unwrap());
        assert_ne!(hash_token(&a), hash_token("x"));
    }
}
