//! Web push: the subscription a browser hands the collector (`PushSubscription.toJSON()`), the
//! notification payload the collector encrypts for it, and the event a click on it reports.
//!
//! Shared by the widgets (which subscribe), the collector (which stores, validates and sends)
//! and the service worker the collector serves (its names are filled in from here).

use alloc::string::String;
use alloc::vec::Vec;

/// Path of the service worker the collector serves (scope `/`).
pub const SERVICE_WORKER_PATH: &str = "/orbita-sw.js";
/// Path answering the VAPID public key: `{"publicKey": "<base64url>"}`.
pub const VAPID_KEY_PATH: &str = "/v1/push/vapid-public-key";
/// Path where browsers store (`POST`) or remove (`DELETE`) their subscription.
pub const SUBSCRIPTIONS_PATH: &str = "/v1/push/subscriptions";
/// Path of the admin endpoint that sends a notification.
pub const SEND_PATH: &str = "/v1/admin/push/send";

/// Subscription field: the push service URL the message is POSTed to.
pub const ENDPOINT: &str = "endpoint";
/// Subscription field: the object holding `p256dh` and `auth`.
pub const KEYS: &str = "keys";
/// Subscription key: the browser's P-256 public key, base64url, uncompressed point.
pub const P256DH: &str = "p256dh";
/// Subscription key: the 16-byte authentication secret, base64url.
pub const AUTH: &str = "auth";
/// Field of the subscription request and answer: the VAPID public key.
pub const PUBLIC_KEY: &str = "publicKey";

/// Payload field: the notification's title.
pub const TITLE: &str = "title";
/// Payload field: the notification's body text.
pub const BODY: &str = "body";
/// Payload field: the notification's icon URL.
pub const ICON: &str = "icon";
/// Payload field: the URL opened (or focused) on click.
pub const URL: &str = "url";
/// Payload field and `Push Clicked` property: the ID of the message, for attribution.
pub const MESSAGE_ID: &str = "message_id";
/// Payload field: the anonymous ID the subscription was stored with, so the service worker
/// reports the click as that visitor.
pub const ANONYMOUS_ID: &str = "anonymousId";

/// Event: a notification was clicked (sent by the service worker). Property: [`MESSAGE_ID`].
pub const PUSH_CLICKED: &str = "Push Clicked";
/// Event: subscribing failed in the browser (unsupported, denied, or the push service
/// refused). Property: [`REASON`].
pub const PUSH_SUBSCRIBE_FAILED: &str = "Push Subscribe Failed";
/// Event: the visitor subscribed to push.
pub const PUSH_SUBSCRIBED: &str = "Push Subscribed";
/// Property key: why subscribing failed.
pub const REASON: &str = "reason";

/// Length of an uncompressed P-256 point (`0x04 ‖ x ‖ y`).
pub const P256DH_BYTES: usize = 65;
/// Length of the authentication secret (RFC 8291 §3.2).
pub const AUTH_BYTES: usize = 16;
/// Longest endpoint URL accepted.
pub const MAX_ENDPOINT_LEN: usize = 1024;
/// Largest plaintext that fits one aes128gcm record of 4096 bytes (RFC 8291 §4: 4096 − 86
/// header − 16 tag − 1 delimiter).
pub const MAX_PAYLOAD_BYTES: usize = 3993;

/// Why a subscription was refused; `code` is the machine-readable reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubscriptionError {
    /// The endpoint is not an `https://` URL with a host.
    EndpointNotHttps,
    /// The endpoint is longer than [`MAX_ENDPOINT_LEN`].
    EndpointTooLong,
    /// `p256dh` is not base64url.
    P256dhNotBase64Url,
    /// `p256dh` does not decode to 65 bytes starting with 0x04.
    P256dhWrongLength,
    /// `auth` is not base64url.
    AuthNotBase64Url,
    /// `auth` does not decode to 16 bytes.
    AuthWrongLength,
}

impl SubscriptionError {
    /// The reason code in the JSON error answer.
    pub fn code(self) -> &'static str {
        match self {
            Self::EndpointNotHttps => "endpoint_not_https",
            Self::EndpointTooLong => "endpoint_too_long",
            Self::P256dhNotBase64Url => "p256dh_not_base64url",
            Self::P256dhWrongLength => "p256dh_wrong_length",
            Self::AuthNotBase64Url => "auth_not_base64url",
            Self::AuthWrongLength => "auth_wrong_length",
        }
    }

    /// A sentence for the person debugging the integration.
    pub fn message(self) -> &'static str {
        match self {
            Self::EndpointNotHttps => "endpoint must be an https:// URL with a host",
            Self::EndpointTooLong => "endpoint must be at most 1024 characters",
            Self::P256dhNotBase64Url => "keys.p256dh must be base64url",
            Self::P256dhWrongLength => {
                "keys.p256dh must be an uncompressed P-256 point (65 bytes starting with 0x04)"
            }
            Self::AuthNotBase64Url => "keys.auth must be base64url",
            Self::AuthWrongLength => "keys.auth must decode to 16 bytes",
        }
    }
}

/// A subscription whose fields checked out, with its keys decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// The push service URL.
    pub endpoint: String,
    /// The browser's public key, 65 bytes.
    pub p256dh: [u8; P256DH_BYTES],
    /// The authentication secret, 16 bytes.
    pub auth: [u8; AUTH_BYTES],
}

impl Subscription {
    /// Validates the three fields of `PushSubscription.toJSON()`.
    pub fn parse(endpoint: &str, p256dh: &str, auth: &str) -> Result<Self, SubscriptionError> {
        if endpoint.len() > MAX_ENDPOINT_LEN {
            return Err(SubscriptionError::EndpointTooLong);
        }
        let host = endpoint.strip_prefix("https://").unwrap_or("");
        let host = host.split(['/', '?', '#']).next().unwrap_or("");
        if host.is_empty()
            || host.starts_with(':')
            || endpoint
                .bytes()
                .any(|b| b <= b' ' || b == b'"' || b == b'\\' || b >= 0x7f)
        {
            return Err(SubscriptionError::EndpointNotHttps);
        }
        let key = base64url_decode(p256dh).ok_or(SubscriptionError::P256dhNotBase64Url)?;
        let key: [u8; P256DH_BYTES] = key
            .try_into()
            .map_err(|_| SubscriptionError::P256dhWrongLength)?;
        if key[0] != 0x04 {
            return Err(SubscriptionError::P256dhWrongLength);
        }
        let secret = base64url_decode(auth).ok_or(SubscriptionError::AuthNotBase64Url)?;
        let secret: [u8; AUTH_BYTES] = secret
            .try_into()
            .map_err(|_| SubscriptionError::AuthWrongLength)?;
        Ok(Self {
            endpoint: endpoint.into(),
            p256dh: key,
            auth: secret,
        })
    }
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Base64url without padding (RFC 4648 §5), as Web Push uses everywhere (the click tokens' encoder).
pub use crate::auth::encode_base64url as base64url_encode;

/// Decodes base64url; trailing `=` padding is accepted, anything else outside the alphabet
/// (including standard base64's `+` and `/`) is not. `None` for invalid input.
pub fn base64url_decode(text: &str) -> Option<Vec<u8>> {
    let text = text.trim_end_matches('=');
    if text.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for b in text.bytes() {
        let v = ALPHABET.iter().position(|&a| a == b)? as u32;
        acc = acc << 6 | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    // Leftover bits must be zero (canonical encoding).
    (acc == 0).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const P256DH: &str =
        "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4";
    const AUTH: &str = "BTBZMqHH6r4Tts7J_aSIgg";

    #[test]
    fn base64url_matches_rfc_4648_vectors() {
        // RFC 4648 §10 vectors (padding dropped, as base64url in Web Push is).
        for (plain, coded) in [
            ("", ""),
            ("f", "Zg"),
            ("fo", "Zm8"),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg"),
            ("fooba", "Zm9vYmE"),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64url_encode(plain.as_bytes()), coded);
            assert_eq!(base64url_decode(coded).unwrap(), plain.as_bytes());
        }
        assert_eq!(base64url_decode("Zm8=").unwrap(), b"fo");
        assert_eq!(base64url_encode(&[0xfb, 0xff]), "-_8");
        assert_eq!(base64url_decode("+/8"), None, "standard alphabet refused");
        assert_eq!(base64url_decode("Zm9"), None, "non-canonical trailing bits");
        assert_eq!(base64url_decode("Z"), None);
    }

    #[test]
    fn a_browser_subscription_is_accepted() {
        let s =
            Subscription::parse("https://fcm.googleapis.com/fcm/send/abc", P256DH, AUTH).unwrap();
        assert_eq!(s.p256dh[0], 4);
        assert_eq!(base64url_encode(&s.auth), AUTH);
    }

    #[test]
    fn bad_subscriptions_get_their_reason() {
        let e = |endpoint: &str, key: &str, auth: &str| {
            Subscription::parse(endpoint, key, auth).unwrap_err()
        };
        use SubscriptionError::*;
        assert_eq!(e("http://push.example/x", P256DH, AUTH), EndpointNotHttps);
        assert_eq!(e("https:///x", P256DH, AUTH), EndpointNotHttps);
        assert_eq!(e("https://a b/x", P256DH, AUTH), EndpointNotHttps);
        assert_eq!(e("javascript:alert(1)", P256DH, AUTH), EndpointNotHttps);
        let long = ["https://p.example/", &"a".repeat(1100)].concat();
        assert_eq!(e(&long, P256DH, AUTH), EndpointTooLong);
        assert_eq!(
            e("https://p.example/", "not base64!", AUTH),
            P256dhNotBase64Url
        );
        assert_eq!(
            e("https://p.example/", &P256DH[..60], AUTH),
            P256dhWrongLength
        );
        // 65 bytes but a compressed-point prefix.
        let compressed = base64url_encode(&[2u8; 65]);
        assert_eq!(
            e("https://p.example/", &compressed, AUTH),
            P256dhWrongLength
        );
        assert_eq!(e("https://p.example/", P256DH, "a+b/"), AuthNotBase64Url);
        assert_eq!(
            e("https://p.example/", P256DH, "BTBZMqHH6r4T"),
            AuthWrongLength
        );
        assert!(P256dhWrongLength.message().contains("65 bytes"));
    }
}
