//! The anonymous visitor ID, kept in a first-party cookie.

use wasm_bindgen::JsCast;
use web_sys::HtmlDocument;

use protocol::ids::VISITOR_COOKIE_MAX_AGE;
use protocol::ids::{cookie_value, is_uuid, VISITOR_COOKIE as COOKIE};

fn document() -> Option<HtmlDocument> {
    web_sys::window()?
        .document()?
        .dyn_into::<HtmlDocument>()
        .ok()
}

/// The visitor's anonymous ID: the cookie's if set and well-formed, otherwise a new random one,
/// which is written to the cookie (and refreshed, so active visitors keep it).
pub fn anonymous_id() -> String {
    let doc = document();
    let cookies = doc
        .as_ref()
        .and_then(|d| d.cookie().ok())
        .unwrap_or_default();
    let id = match cookie_value(&cookies, COOKIE) {
        Some(v) if is_uuid(v) => v.to_string(),
        _ => new_uuid(),
    };
    if let Some(doc) = doc {
        let secure = web_sys::window()
            .and_then(|w| w.location().protocol().ok())
            .is_some_and(|p| p == "https:");
        let flags = if secure {
            "; SameSite=Lax; Secure"
        } else {
            "; SameSite=Lax"
        };
        let cookie = [
            COOKIE,
            "=",
            &id,
            "; Path=/; Max-Age=",
            VISITOR_COOKIE_MAX_AGE,
            flags,
        ]
        .concat();
        let _ = doc.set_cookie(&cookie);
    }
    id
}

/// A random RFC 4122 version-4 UUID from the browser's cryptographic random source.
pub fn new_uuid() -> String {
    let mut bytes = [0u8; 16];
    let filled = web_sys::window()
        .and_then(|w| w.crypto().ok())
        .is_some_and(|c| c.get_random_values_with_u8_array(&mut bytes).is_ok());
    if !filled {
        // No Web Crypto (very old browsers): Math.random is weaker but still unique enough.
        for b in bytes.iter_mut() {
            *b = (js_sys::Math::random() * 256.0) as u8;
        }
    }
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let mut out = String::with_capacity(36);
    for (i, b) in bytes.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out.push('-');
        }
        out.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
        out.push(char::from(b"0123456789abcdef"[usize::from(b & 15)]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    #[wasm_bindgen_test]
    fn uuids_are_v4_and_unique() {
        let ids: std::collections::HashSet<String> = (0..2000).map(|_| new_uuid()).collect();
        assert_eq!(ids.len(), 2000);
        for id in ids.iter().take(50) {
            assert!(is_uuid(id), "{id}");
            assert_eq!(&id[14..15], "4", "version nibble");
            assert!("89ab".contains(&id[19..20]), "variant bits");
        }
    }

    #[wasm_bindgen_test]
    fn anonymous_id_is_kept_in_a_first_party_cookie() {
        let first = anonymous_id();
        let doc = document().unwrap();
        assert_eq!(
            cookie_value(&doc.cookie().unwrap(), COOKIE),
            Some(first.as_str())
        );
        assert_eq!(anonymous_id(), first, "the same visitor keeps the same ID");
        // A tampered cookie is replaced by a fresh, valid ID.
        doc.set_cookie(&format!("{COOKIE}=not-a-uuid; Path=/"))
            .unwrap();
        let replaced = anonymous_id();
        assert!(is_uuid(&replaced) && replaced != first);
    }
}
