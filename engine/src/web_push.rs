//! Web push message encryption (RFC 8291, `aes128gcm` of RFC 8188) and VAPID authorisation
//! (RFC 8292), with RustCrypto's P-256, HKDF and AES-GCM.
//!
//! Pure: the caller passes the random salt and ephemeral key (the collector draws them from
//! `crypto.getRandomValues`) and the current time, so the RFC's worked example is a unit test.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes128Gcm, Nonce};
use hkdf::Hkdf;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::{PublicKey, SecretKey};
use protocol::push::{base64url_encode, Subscription, MAX_PAYLOAD_BYTES, P256DH_BYTES};
use sha2::Sha256;

/// Record size written in the header: one record holds any payload up to 4096 bytes.
const RECORD_SIZE: u32 = 4096;
/// How long a VAPID token is valid: 12 hours (RFC 8292 allows at most 24).
pub const VAPID_VALIDITY_S: u64 = 12 * 3600;

/// Why a message could not be prepared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushError {
    /// The browser's key is not a point on P-256.
    BadSubscriptionKey,
    /// The application server's (ephemeral or VAPID) private key is not a valid scalar.
    BadPrivateKey,
    /// The plaintext is longer than one 4096-byte record holds.
    PayloadTooLarge,
    /// The endpoint is not a URL with a scheme and host.
    BadEndpoint,
}

impl PushError {
    /// Machine-readable reason.
    pub fn code(self) -> &'static str {
        match self {
            Self::BadSubscriptionKey => "bad_subscription_key",
            Self::BadPrivateKey => "bad_private_key",
            Self::PayloadTooLarge => "payload_too_large",
            Self::BadEndpoint => "bad_endpoint",
        }
    }
}

fn hkdf_expand<const N: usize>(salt: &[u8], ikm: &[u8], info: &[u8]) -> [u8; N] {
    let mut out = [0u8; N];
    Hkdf::<Sha256>::new(Some(salt), ikm)
        .expand(info, &mut out)
        .expect("N is at most 32 bytes, far below HKDF-SHA-256's limit");
    out
}

/// Encrypts `plaintext` for a subscription (RFC 8291 §3.4, one record): the body of the push
/// request, `salt ‖ rs ‖ idlen ‖ keyid (the ephemeral public key) ‖ ciphertext`. `salt` and
/// `ephemeral_secret` must be fresh random bytes for every message.
pub fn encrypt(
    plaintext: &[u8],
    subscription: &Subscription,
    salt: [u8; 16],
    ephemeral_secret: &[u8; 32],
) -> Result<Vec<u8>, PushError> {
    if plaintext.len() > MAX_PAYLOAD_BYTES {
        return Err(PushError::PayloadTooLarge);
    }
    let ua_public = PublicKey::from_sec1_bytes(&subscription.p256dh)
        .map_err(|_| PushError::BadSubscriptionKey)?;
    let as_secret =
        SecretKey::from_slice(ephemeral_secret).map_err(|_| PushError::BadPrivateKey)?;
    let as_public = as_secret.public_key().to_encoded_point(false);
    let shared = p256::ecdh::diffie_hellman(as_secret.to_nonzero_scalar(), ua_public.as_affine());

    // RFC 8291 §3.3: IKM = HKDF(auth, ecdh_secret, "WebPush: info" ‖ 0 ‖ ua_public ‖ as_public)
    let mut key_info = Vec::with_capacity(14 + 2 * P256DH_BYTES);
    key_info.extend_from_slice(b"WebPush: info\0");
    key_info.extend_from_slice(&subscription.p256dh);
    key_info.extend_from_slice(as_public.as_bytes());
    let ikm: [u8; 32] = hkdf_expand(
        &subscription.auth,
        shared.raw_secret_bytes().as_slice(),
        &key_info,
    );
    // RFC 8188 §2.2-2.3: content encryption key and nonce from the salt.
    let cek: [u8; 16] = hkdf_expand(&salt, &ikm, b"Content-Encoding: aes128gcm\0");
    let nonce: [u8; 12] = hkdf_expand(&salt, &ikm, b"Content-Encoding: nonce\0");

    let mut record = Vec::with_capacity(plaintext.len() + 1);
    record.extend_from_slice(plaintext);
    record.push(2); // padding delimiter of the last (only) record
    let cipher = Aes128Gcm::new_from_slice(&cek).expect("16-byte key");
    let ciphertext = cipher
        .encrypt(Nonce::from_slice(&nonce), record.as_slice())
        .map_err(|_| PushError::PayloadTooLarge)?;

    let mut body = Vec::with_capacity(86 + ciphertext.len());
    body.extend_from_slice(&salt);
    body.extend_from_slice(&RECORD_SIZE.to_be_bytes());
    body.push(P256DH_BYTES as u8);
    body.extend_from_slice(as_public.as_bytes());
    body.extend_from_slice(&ciphertext);
    Ok(body)
}

/// The public key (uncompressed point, 65 bytes) of a VAPID private key (32-byte scalar).
pub fn vapid_public_key(private_key: &[u8]) -> Result<[u8; P256DH_BYTES], PushError> {
    let secret = SecretKey::from_slice(private_key).map_err(|_| PushError::BadPrivateKey)?;
    let point = secret.public_key().to_encoded_point(false);
    point
        .as_bytes()
        .try_into()
        .map_err(|_| PushError::BadPrivateKey)
}

/// The origin (`scheme://host[:port]`) of an endpoint URL: the VAPID token's audience.
pub fn origin(endpoint: &str) -> Result<&str, PushError> {
    let (scheme, rest) = endpoint.split_once("://").ok_or(PushError::BadEndpoint)?;
    let authority_len = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    if scheme.is_empty() || authority_len == 0 || rest[..authority_len].contains('@') {
        return Err(PushError::BadEndpoint);
    }
    Ok(&endpoint[..scheme.len() + 3 + authority_len])
}

/// The `Authorization` header for a push request to `endpoint` (RFC 8292 §3):
/// `vapid t=<ES256 JWT>, k=<public key>`, the token valid until `now_s + VAPID_VALIDITY_S`.
/// `contact` is a `mailto:` or `https:` URI the push service can reach the sender at.
pub fn vapid_authorization(
    endpoint: &str,
    contact: &str,
    private_key: &[u8],
    now_s: u64,
) -> Result<String, PushError> {
    let secret = SecretKey::from_slice(private_key).map_err(|_| PushError::BadPrivateKey)?;
    let audience = origin(endpoint)?;
    let claims = serde_json::json!({
        "aud": audience,
        "exp": now_s + VAPID_VALIDITY_S,
        "sub": contact,
    });
    let signing_input = [
        base64url_encode(br#"{"typ":"JWT","alg":"ES256"}"#),
        ".".into(),
        base64url_encode(claims.to_string().as_bytes()),
    ]
    .concat();
    let signature: Signature = SigningKey::from(&secret).sign(signing_input.as_bytes());
    let public = secret.public_key().to_encoded_point(false);
    Ok([
        "vapid t=",
        &signing_input,
        ".",
        &base64url_encode(&signature.to_bytes()),
        ", k=",
        &base64url_encode(public.as_bytes()),
    ]
    .concat())
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::signature::Verifier;
    use p256::ecdsa::VerifyingKey;
    use protocol::push::base64url_decode;

    fn b64(text: &str) -> Vec<u8> {
        base64url_decode(text).unwrap()
    }

    /// RFC 8291 Appendix A, "Encryption Example", every input and the final message.
    #[test]
    fn encrypts_the_rfc_8291_example_byte_for_byte() {
        let subscription = Subscription::parse(
            "https://push.example.net/push/JzLQ3raZJfFBR0aqvOMsLrt54w4rJUsV",
            "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4",
            "BTBZMqHH6r4Tts7J_aSIgg",
        )
        .unwrap();
        let as_private: [u8; 32] = b64("yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw")
            .try_into()
            .unwrap();
        let salt: [u8; 16] = b64("DGv6ra1nlYgDCS1FRnbzlw").try_into().unwrap();
        let body = encrypt(
            b"When I grow up, I want to be a watermelon",
            &subscription,
            salt,
            &as_private,
        )
        .unwrap();
        assert_eq!(
            base64url_encode(&body),
            "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN"
        );
        // The application server's public key of the example, derived from its private key.
        assert_eq!(
            base64url_encode(&vapid_public_key(&as_private).unwrap()),
            "BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8"
        );
    }

    #[test]
    fn refuses_what_cannot_be_sent() {
        let mut subscription = Subscription::parse(
            "https://push.example.net/x",
            "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4",
            "BTBZMqHH6r4Tts7J_aSIgg",
        )
        .unwrap();
        let key = [7u8; 32];
        let big = vec![b'x'; MAX_PAYLOAD_BYTES + 1];
        assert_eq!(
            encrypt(&big, &subscription, [0; 16], &key),
            Err(PushError::PayloadTooLarge)
        );
        let body = encrypt(&big[1..], &subscription, [0; 16], &key).unwrap();
        assert_eq!(body.len(), 4096, "the largest payload fills one record");
        assert_eq!(
            encrypt(b"x", &subscription, [0; 16], &[0u8; 32]),
            Err(PushError::BadPrivateKey)
        );
        subscription.p256dh[5] ^= 1; // no longer on the curve
        assert_eq!(
            encrypt(b"x", &subscription, [0; 16], &key),
            Err(PushError::BadSubscriptionKey)
        );
    }

    #[test]
    fn the_vapid_audience_is_the_endpoint_origin() {
        assert_eq!(
            origin("https://fcm.googleapis.com/fcm/send/abc").unwrap(),
            "https://fcm.googleapis.com"
        );
        assert_eq!(
            origin("http://127.0.0.1:8123/push?x=1").unwrap(),
            "http://127.0.0.1:8123"
        );
        assert_eq!(origin("no-scheme"), Err(PushError::BadEndpoint));
        assert_eq!(origin("https:///x"), Err(PushError::BadEndpoint));
    }

    #[test]
    fn vapid_token_is_a_verifiable_es256_jwt() {
        let private = [42u8; 32];
        let header = vapid_authorization(
            "https://push.example.net/p/1",
            "mailto:ops@shop.example",
            &private,
            1_700_000_000,
        )
        .unwrap();
        let (token, key) = header
            .strip_prefix("vapid t=")
            .unwrap()
            .split_once(", k=")
            .unwrap();
        assert_eq!(b64(key), vapid_public_key(&private).unwrap());
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3);
        let claims: serde_json::Value = serde_json::from_slice(&b64(parts[1])).unwrap();
        assert_eq!(claims["aud"], "https://push.example.net");
        assert_eq!(claims["exp"], 1_700_000_000u64 + 12 * 3600);
        assert_eq!(claims["sub"], "mailto:ops@shop.example");
        let jwt_header: serde_json::Value = serde_json::from_slice(&b64(parts[0])).unwrap();
        assert_eq!(jwt_header["alg"], "ES256");
        let verifier = VerifyingKey::from_sec1_bytes(&b64(key)).unwrap();
        let signature = Signature::from_slice(&b64(parts[2])).unwrap();
        let signed = [parts[0], ".", parts[1]].concat();
        assert!(verifier.verify(signed.as_bytes(), &signature).is_ok());
        assert!(verifier.verify(b"something else", &signature).is_err());
    }
}
