//! The anonymous visitor ID, kept in a first-party cookie.

use protocol::ids::VISITOR_COOKIE_MAX_AGE;
use protocol::ids::{cookie_value, is_uuid, VISITOR_COOKIE as COOKIE, VISITOR_COOKIE_SERVER_COPY};
use wasm_bindgen::JsValue;

use crate::js;

/// The page's cookies (`document.cookie`), if the page has any access to them.
pub fn cookies() -> Option<String> {
    js::get_text(&js::document(), "cookie")
}

/// Writes one cookie (`document.cookie = text`).
pub fn write_cookie(text: &str) {
    js::set(&js::document(), "cookie", &text.into());
}

/// The visitor's anonymous ID: the cookie's if set and well-formed, otherwise a new random one,
/// which is written to the cookie (and refreshed, so active visitors keep it).
pub fn anonymous_id() -> String {
    let id = existing_anonymous_id().unwrap_or_else(new_uuid);
    let secure = js::get_text(&js::location(), "protocol").as_deref() == Some("https:");
    let flags = if secure {
        "; SameSite=Lax; Secure"
    } else {
        "; SameSite=Lax"
    };
    write_cookie(
        &[
            COOKIE,
            "=",
            &id,
            "; Path=/; Max-Age=",
            VISITOR_COOKIE_MAX_AGE,
            flags,
        ]
        .concat(),
    );
    id
}

/// localStorage key of the customer ID given to `identify`.
const USER_KEY: &str = "orb_uid";

/// The site's localStorage, when the browser allows it (reading it throws when it does not).
pub fn local_storage() -> Option<JsValue> {
    Some(js::get(&js::window(), "localStorage")).filter(JsValue::is_object)
}

/// `localStorage.getItem(key)`.
pub fn stored(key: &str) -> Option<String> {
    js::call(&local_storage()?, "getItem", &[&key.into()])
        .ok()?
        .as_string()
}

/// `localStorage.setItem(key, value)`, or `removeItem(key)` for `None`; storage may be full or
/// disabled, which is not an error for the tracker.
pub fn store(key: &str, value: Option<&str>) {
    if let Some(storage) = local_storage() {
        let _ = match value {
            Some(value) => js::call(&storage, "setItem", &[&key.into(), &value.into()]),
            None => js::call(&storage, "removeItem", &[&key.into()]),
        };
    }
}

/// The customer ID from an earlier `identify` on this site, if any.
pub fn stored_user_id() -> Option<String> {
    stored(USER_KEY).filter(|u| !u.is_empty())
}

/// Remembers (or, with `None`, forgets) the customer ID across pages.
pub fn remember_user_id(user_id: Option<&str>) {
    store(USER_KEY, user_id);
}

/// Replaces the anonymous ID with a new one (on logout, so the next person on this device starts
/// fresh) and returns it.
pub fn renew_anonymous_id() -> String {
    forget_visitor_cookies();
    anonymous_id()
}

fn forget_visitor_cookies() {
    for name in [COOKIE, VISITOR_COOKIE_SERVER_COPY] {
        write_cookie(&[name, "=; Path=/; Max-Age=0"].concat());
    }
}

/// The visitor's anonymous ID if a cookie already holds one: ours, else the collector's
/// server-set copy (Safari may have dropped ours). Writes nothing.
pub fn existing_anonymous_id() -> Option<String> {
    let cookies = cookies()?;
    [COOKIE, VISITOR_COOKIE_SERVER_COPY]
        .iter()
        .find_map(|name| cookie_value(&cookies, name).filter(|v| is_uuid(v)))
        .map(str::to_string)
}

/// Removes everything the tracker wrote (consent withdrawn).
pub fn forget_everything() {
    forget_visitor_cookies();
    remember_user_id(None);
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
        assert_eq!(
            cookie_value(&cookies().unwrap(), COOKIE),
            Some(first.as_str())
        );
        assert_eq!(anonymous_id(), first, "the same visitor keeps the same ID");
        // A tampered cookie is replaced by a fresh, valid ID.
        write_cookie(&format!("{COOKIE}=not-a-uuid; Path=/"));
        let replaced = anonymous_id();
        assert!(is_uuid(&replaced) && replaced != first);
        // Safari dropped our cookie, but the collector's server-set copy is there: restored.
        write_cookie(&format!("{COOKIE}=; Path=/; Max-Age=0"));
        write_cookie(&format!("{VISITOR_COOKIE_SERVER_COPY}={first}; Path=/"));
        assert_eq!(anonymous_id(), first);
        assert_eq!(
            cookie_value(&cookies().unwrap(), COOKIE),
            Some(first.as_str())
        );
        // Logout forgets both.
        let fresh = renew_anonymous_id();
        assert_ne!(fresh, first);
        assert_eq!(
            cookie_value(&cookies().unwrap(), VISITOR_COOKIE_SERVER_COPY),
            None
        );
    }
}
