//! nexds's own signed values: download links (`/download/{data_id}`) that outlive
//! a presigned URL, and the page tokens of listings. HMAC-SHA256 with the link
//! secret; nothing of AWS here.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// HMAC-SHA256 of `text` under `secret`, not yet finalized.
fn mac(secret: &[u8], text: &str) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key");
    mac.update(text.as_bytes());
    mac
}

/// Download links of nexds itself (`/download/{data_id}`), for periods longer than
/// a presigned URL may live: HMAC-SHA256 over the data_id, the file key and the expiry.
pub fn link_signature(secret: &[u8], data_id: u64, key: &str, expires_at: i64) -> String {
    hex::encode(
        mac(secret, &format!("{data_id}\n{key}\n{expires_at}"))
            .finalize()
            .into_bytes(),
    )
}

/// What a page token's HMAC covers: the listing it belongs to and the last id shown.
fn page_mac(secret: &[u8], scope: &str, last_id: u64) -> Hmac<Sha256> {
    mac(secret, &format!("page\n{scope}\n{last_id}"))
}

/// A listing's page token: URL-safe Base64 (unpadded) of the last data_id shown
/// (8 bytes, big-endian) and the first 12 bytes of an HMAC-SHA256 over `scope`
/// (the listing it belongs to) and that id. Opaque to clients, and a token made up
/// or taken from another listing is told apart.
pub fn page_token(secret: &[u8], scope: &str, last_id: u64) -> String {
    let mut bytes = last_id.to_be_bytes().to_vec();
    bytes.extend_from_slice(&page_mac(secret, scope, last_id).finalize().into_bytes()[..12]);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The last data_id of a [`page_token`] made for `scope`, or `None` if it is not one.
pub fn page_token_id(secret: &[u8], scope: &str, token: &str) -> Option<u64> {
    let bytes = URL_SAFE_NO_PAD.decode(token.trim()).ok()?;
    let (id, tag) = bytes.split_at_checked(8)?;
    let last_id = u64::from_be_bytes(id.try_into().ok()?);
    let expected = page_mac(secret, scope, last_id);
    (tag.len() == 12 && expected.verify_truncated_left(tag).is_ok()).then_some(last_id)
}

/// Constant-time comparison of two signatures (also used for S3's).
pub fn same_signature(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_signatures_bind_id_key_and_expiry() {
        let a = link_signature(b"s", 1, "k", 10);
        assert_eq!(a.len(), 64);
        assert_ne!(a, link_signature(b"s", 2, "k", 10));
        assert_ne!(a, link_signature(b"s", 1, "j", 10));
        assert_ne!(a, link_signature(b"s", 1, "k", 11));
        assert_ne!(a, link_signature(b"t", 1, "k", 10));
    }

    #[test]
    fn page_tokens_carry_the_id_and_belong_to_their_listing() {
        let token = page_token(b"s", "default/100/all", 1_000_042);
        assert_eq!(
            page_token_id(b"s", "default/100/all", &token),
            Some(1_000_042)
        );
        assert_eq!(page_token_id(b"s", "default/100/deleted", &token), None);
        assert_eq!(page_token_id(b"t", "default/100/all", &token), None);
        assert!(!token.contains(['+', '/', '=']), "{token}");
        let forged = URL_SAFE_NO_PAD.encode(1_000_000u64.to_be_bytes());
        assert_eq!(page_token_id(b"s", "default/100/all", &forged), None);
        assert_eq!(page_token_id(b"s", "default/100/all", "%%%"), None);
        assert_eq!(page_token_id(b"s", "default/100/all", ""), None);
    }

    #[test]
    fn signatures_compare_in_full() {
        assert!(same_signature("abc", "abc"));
        assert!(!same_signature("abc", "abd"));
        assert!(!same_signature("abc", "ab"));
    }
}
