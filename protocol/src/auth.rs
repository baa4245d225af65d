//! Key handling shared by every endpoint: HTTP Basic auth as Segment clients send it, and
//! comparison of secrets in constant time.

use alloc::string::String;
use alloc::vec::Vec;

/// Compares two secrets in time that depends only on their lengths, not on where they differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut diff = a.len() ^ b.len();
    for (i, &x) in a.iter().enumerate() {
        diff |= usize::from(x ^ b.get(i).copied().unwrap_or(!x));
    }
    diff == 0
}

/// The user name of an HTTP Basic `Authorization` header value. Segment's clients send the
/// write key as the user name with an empty password: `Basic base64("KEY:")`.
pub fn basic_auth_user(header: &str) -> Option<String> {
    let (user, _) = basic_auth_credentials(header)?;
    (!user.is_empty()).then_some(user)
}

/// The password of an HTTP Basic `Authorization` header value (Yespo's API sends its key there).
pub fn basic_auth_password(header: &str) -> Option<String> {
    let (_, password) = basic_auth_credentials(header)?;
    (!password.is_empty()).then_some(password)
}

/// User name and password of an HTTP Basic `Authorization` header value.
fn basic_auth_credentials(header: &str) -> Option<(String, String)> {
    let (scheme, encoded) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(decode_base64(encoded.trim())?).ok()?;
    let (user, password) = decoded.split_once(':').unwrap_or((decoded.as_str(), ""));
    Some((user.into(), password.into()))
}

/// The token of an `Authorization: Bearer TOKEN` header value.
pub fn bearer_token(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty()).then(|| token.trim())
}

/// Base64 (standard or URL-safe alphabet, padding optional) to bytes; `None` if malformed.
pub fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let body = text.trim_end_matches('=');
    if text.len() - body.len() > 2 || body.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(body.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0);
    for c in body.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_rfc4648_vectors() {
        // RFC 4648 §10.
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(
                decode_base64(encoded).as_deref(),
                Some(plain.as_bytes()),
                "{encoded}"
            );
        }
        assert_eq!(decode_base64("Zm9v!"), None);
        assert_eq!(decode_base64("Z"), None);
    }

    #[test]
    fn basic_auth_as_segment_sends_it() {
        // base64("demo-write-key:")
        assert_eq!(
            basic_auth_user("Basic ZGVtby13cml0ZS1rZXk6").as_deref(),
            Some("demo-write-key")
        );
        assert_eq!(basic_auth_user("Bearer ZGVtby13cml0ZS1rZXk6"), None);
        assert_eq!(basic_auth_user("Basic Og=="), None, "empty user name");
        // base64("user:demo-server-key"), as Yespo clients send their API key.
        assert_eq!(
            basic_auth_password("Basic dXNlcjpkZW1vLXNlcnZlci1rZXk=").as_deref(),
            Some("demo-server-key")
        );
        assert_eq!(
            basic_auth_password("Basic ZGVtby13cml0ZS1rZXk6"),
            None,
            "empty password"
        );
        assert_eq!(bearer_token("Bearer  abc "), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
    }

    #[test]
    fn secrets_compare_exactly() {
        assert!(same_secret("k3y", "k3y"));
        assert!(!same_secret("k3y", "k3z"));
        assert!(!same_secret("k3y", "k3y4"));
        assert!(!same_secret("", "x"));
    }
}

/// Whether a browser request from `origin` may use the browser endpoints of a collector whose
/// own origin is `own`: same origin always; others only if listed in `allowlist` (comma-separated
/// origins, or `*` for any).
pub fn origin_allowed(origin: &str, own: &str, allowlist: &str) -> bool {
    let origin = origin.trim_end_matches('/');
    origin.eq_ignore_ascii_case(own.trim_end_matches('/'))
        || allowlist.split(',').map(str::trim).any(|allowed| {
            allowed == "*"
                || (!allowed.is_empty()
                    && allowed.trim_end_matches('/').eq_ignore_ascii_case(origin))
        })
}

#[cfg(test)]
mod origin_tests {
    use super::origin_allowed;

    #[test]
    fn same_origin_and_allowlist() {
        let own = "https://shop.example";
        assert!(origin_allowed("https://shop.example", own, ""));
        assert!(origin_allowed(
            "https://www.shop.example",
            own,
            "https://www.shop.example, https://m.shop.example"
        ));
        assert!(origin_allowed("https://anything.test", own, "*"));
        assert!(!origin_allowed(
            "https://evil.test",
            own,
            "https://www.shop.example"
        ));
        assert!(
            !origin_allowed("http://shop.example", own, ""),
            "scheme matters"
        );
        assert!(!origin_allowed(
            "https://shop.example.evil.test",
            own,
            "https://shop.example"
        ));
        assert!(!origin_allowed("null", own, ""));
        assert!(
            !origin_allowed("https://evil.test", own, ","),
            "empty entries allow nothing"
        );
    }
}

/// Bytes to unpadded URL-safe base64 (RFC 4648 §5), the alphabet that survives in a URL.
pub fn encode_base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &b)| acc | u32::from(b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
        }
    }
    out
}

#[cfg(test)]
mod base64url_tests {
    use super::{decode_base64, encode_base64url};

    #[test]
    fn rfc4648_vectors_without_padding() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg"),
            ("fo", "Zm8"),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg"),
            ("fooba", "Zm9vYmE"),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(encode_base64url(plain.as_bytes()), encoded);
        }
        let bytes: alloc::vec::Vec<u8> = (0..=255).collect();
        let text = encode_base64url(&bytes);
        assert!(!text.contains(['+', '/', '=']));
        assert_eq!(decode_base64(&text).unwrap(), bytes);
    }
}
