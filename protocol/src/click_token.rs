//! Click tokens: the signed contact ID that email, SMS and push links carry, so that a visitor
//! who clicks is recognised on the shop's site.
//!
//! Format (URL-safe, no padding): `v1.{base64url(contact_id)}.{expires_unix_seconds}.{base64url(mac)}`
//! where `mac = HMAC-SHA256(secret, "v1.{base64url(contact_id)}.{expires}")`. The contact ID is
//! readable (it is the shop's own customer ID, not a secret); what the token proves is that the
//! shop issued it for that contact and that it has not expired.

use alloc::format;
use alloc::string::String;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::auth::{decode_base64, encode_base64url};

/// URL query parameter that carries the token in links.
pub use crate::ids::CLICK_TOKEN_PARAMETER as URL_PARAMETER;
/// Longest accepted token, in bytes.
pub const MAX_TOKEN_BYTES: usize = 512;

/// Why a token was refused. Each refusal merges nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    /// Not in the token format at all.
    Malformed,
    /// The signature does not match: forged or altered.
    BadSignature,
    /// Signed by us, but past its expiry.
    Expired,
}

impl TokenError {
    /// Stable, machine-readable code.
    pub fn code(self) -> &'static str {
        match self {
            Self::Malformed => "token_malformed",
            Self::BadSignature => "token_forged",
            Self::Expired => "token_expired",
        }
    }
}

fn mac(secret: &[u8], payload: &str) -> Hmac<Sha256> {
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(payload.as_bytes());
    mac
}

/// Issues a token for `contact_id`, valid until `expires_unix_s`.
pub fn issue(secret: &[u8], contact_id: &str, expires_unix_s: u64) -> String {
    let payload = format!(
        "v1.{}.{expires_unix_s}",
        encode_base64url(contact_id.as_bytes())
    );
    let signature = encode_base64url(&mac(secret, &payload).finalize().into_bytes());
    format!("{payload}.{signature}")
}

/// Verifies a token at time `now_unix_s` and returns the contact ID it was issued for. The
/// signature is checked (in constant time) before the expiry, so an altered expiry is "forged".
pub fn verify(secret: &[u8], token: &str, now_unix_s: u64) -> Result<String, TokenError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(TokenError::Malformed);
    }
    let (payload, signature) = token.rsplit_once('.').ok_or(TokenError::Malformed)?;
    let mut parts = payload.split('.');
    let (Some("v1"), Some(contact), Some(expires), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed);
    };
    let expires: u64 = expires.parse().map_err(|_| TokenError::Malformed)?;
    let signature = decode_base64(signature).ok_or(TokenError::Malformed)?;
    mac(secret, payload)
        .verify_slice(&signature)
        .map_err(|_| TokenError::BadSignature)?;
    if expires <= now_unix_s {
        return Err(TokenError::Expired);
    }
    let contact = decode_base64(contact)
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or(TokenError::Malformed)?;
    if contact.is_empty() {
        return Err(TokenError::Malformed);
    }
    Ok(contact)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hmac_hex(key: &[u8], data: &[u8]) -> String {
        let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(key).unwrap();
        m.update(data);
        m.finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    #[test]
    fn hmac_sha256_matches_rfc4231() {
        // RFC 4231 test cases 1, 2 and 6 (a key longer than the block size).
        assert_eq!(
            hmac_hex(&[0x0b; 20], b"Hi There"),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        );
        assert_eq!(
            hmac_hex(b"Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(
            hmac_hex(
                &[0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First"
            ),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    const SECRET: &[u8] = b"click-secret";

    #[test]
    fn issued_tokens_verify_until_they_expire() {
        let token = issue(SECRET, "customer-42", 2_000);
        assert!(token.starts_with("v1.Y3VzdG9tZXItNDI.2000."));
        assert!(
            token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)),
            "URL-safe"
        );
        assert_eq!(verify(SECRET, &token, 1_999).as_deref(), Ok("customer-42"));
        assert_eq!(verify(SECRET, &token, 2_000), Err(TokenError::Expired));
    }

    #[test]
    fn forged_and_altered_tokens_are_refused() {
        let token = issue(SECRET, "customer-42", 2_000);
        assert_eq!(
            verify(b"other-secret", &token, 1),
            Err(TokenError::BadSignature)
        );
        let other_contact = token.replacen("Y3VzdG9tZXItNDI", "Y3VzdG9tZXItNDM", 1);
        assert_eq!(
            verify(SECRET, &other_contact, 1),
            Err(TokenError::BadSignature)
        );
        let later = token.replacen(".2000.", ".9999.", 1);
        assert_eq!(verify(SECRET, &later, 1), Err(TokenError::BadSignature));
        let mut flipped = token.clone();
        let last = flipped.pop().unwrap();
        flipped.push(if last == 'A' { 'B' } else { 'A' });
        assert_eq!(verify(SECRET, &flipped, 1), Err(TokenError::BadSignature));
        for bad in [
            "",
            "v1",
            "v2.Y3U.2000.sig",
            "v1.Y3U.soon.sig",
            "v1.Y3U.2000.***",
            "v1.a.b.c.d",
        ] {
            assert_eq!(verify(SECRET, bad, 1), Err(TokenError::Malformed), "{bad}");
        }
    }
}
