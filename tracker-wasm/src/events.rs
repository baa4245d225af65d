//! Building Segment-compatible events as JS objects, with the wire names from `protocol`.

use js_sys::{Date, Object, Reflect};
use protocol::names;
use wasm_bindgen::JsValue;

use crate::js;

/// Library name reported in `context.library`.
pub const LIBRARY_NAME: &str = "orbita-tracker";
/// Library version reported in `context.library`.
pub const LIBRARY_VERSION: &str = env!("CARGO_PKG_VERSION");

fn set(target: &Object, key: &str, value: impl Into<JsValue>) {
    let _ = Reflect::set(target, &key.into(), &value.into());
}

/// Copies a string property of a browser object (e.g. `location.href`) into `target`.
fn copy(target: &Object, key: &str, source: &JsValue, source_key: &str) {
    if let Ok(v) = Reflect::get(source, &source_key.into()) {
        if v.is_string() {
            set(target, key, v);
        }
    }
}

fn page_context() -> Object {
    let page = Object::new();
    let location = js::location();
    copy(&page, "path", &location, "pathname");
    copy(&page, "url", &location, "href");
    copy(&page, "search", &location, "search");
    let document = js::document();
    copy(&page, "title", &document, "title");
    copy(&page, "referrer", &document, "referrer");
    page
}

fn context() -> Object {
    let ctx = Object::new();
    let library = Object::new();
    set(&library, "name", LIBRARY_NAME);
    set(&library, "version", LIBRARY_VERSION);
    set(&ctx, names::LIBRARY, library);
    set(&ctx, names::PAGE, page_context());
    let nav = js::get(&js::window(), "navigator");
    copy(&ctx, "userAgent", &nav, "userAgent");
    copy(&ctx, "locale", &nav, "language");
    // A browser driven by automation says so; the collector flags such events as bots.
    if js::get(&nav, "webdriver").as_bool() == Some(true) {
        set(&ctx, "webdriver", true);
    }
    ctx
}

/// The shop's payload if it is an object, else an empty object.
fn payload(value: &JsValue) -> JsValue {
    if value.is_object() {
        value.clone()
    } else {
        Object::new().into()
    }
}

/// Builds one event: `kind` is a `protocol::names::types` value; `name` is the `event` of a
/// `track`; `properties` is what the shop passed.
pub fn build(
    kind: &str,
    name: Option<&str>,
    properties: &JsValue,
    anonymous_id: &str,
    user_id: Option<&str>,
) -> Object {
    let event = Object::new();
    set(&event, names::TYPE, kind);
    if let Some(name) = name {
        set(&event, names::EVENT, name);
    }
    set(&event, names::MESSAGE_ID, crate::identity::new_uuid());
    set(&event, names::ANONYMOUS_ID, anonymous_id);
    if let Some(user_id) = user_id {
        set(&event, names::USER_ID, user_id);
    }
    set(&event, names::TIMESTAMP, Date::new_0().to_iso_string());
    // `identify` carries who the person is (traits); every other event what they did.
    let field = if kind == protocol::names::types::IDENTIFY {
        names::TRAITS
    } else {
        names::PROPERTIES
    };
    set(&event, field, payload(properties));
    set(&event, names::CONTEXT, context());
    event
}

/// Records the consent state the event is sent under, in `context.consent.tracking`.
pub fn set_consent(event: &Object, consent: crate::consent::Consent) {
    let Ok(context) = Reflect::get(event, &names::CONTEXT.into()) else {
        return;
    };
    let state = Object::new();
    set(&state, names::CONSENT_TRACKING, consent.as_str());
    let _ = Reflect::set(&context, &names::CONSENT.into(), &state);
}

#[cfg(test)]
mod tests {
    use super::*;
    use js_sys::JSON;
    use protocol::time::parse_rfc3339_ms;
    use wasm_bindgen_test::wasm_bindgen_test;

    fn field(v: &JsValue, path: &[&str]) -> JsValue {
        path.iter()
            .fold(v.clone(), |v, k| Reflect::get(&v, &(*k).into()).unwrap())
    }

    #[wasm_bindgen_test]
    fn builds_a_segment_track_event() {
        let props = Object::new();
        Reflect::set(&props, &"product_id".into(), &"SKU-1".into()).unwrap();
        let a = build("track", Some("Product Viewed"), &props, "visitor-1", None);
        let b = build("track", Some("Product Viewed"), &props, "visitor-1", None);
        let json: JsValue = JSON::parse(&String::from(JSON::stringify(&a).unwrap())).unwrap();
        assert_eq!(
            field(&json, &["type"]).as_string().as_deref(),
            Some("track")
        );
        assert_eq!(
            field(&json, &["event"]).as_string().as_deref(),
            Some("Product Viewed")
        );
        assert_eq!(
            field(&json, &["anonymousId"]).as_string().as_deref(),
            Some("visitor-1")
        );
        assert_eq!(
            field(&json, &["properties", "product_id"])
                .as_string()
                .as_deref(),
            Some("SKU-1")
        );
        assert_eq!(
            field(&json, &["context", "library", "name"])
                .as_string()
                .as_deref(),
            Some(LIBRARY_NAME)
        );
        assert!(field(&json, &["context", "page", "url"])
            .as_string()
            .unwrap()
            .starts_with("http"));
        let ts = parse_rfc3339_ms(&field(&json, &["timestamp"]).as_string().unwrap())
            .expect("RFC 3339 timestamp");
        assert!((ts as f64 - Date::now()).abs() < 60_000.0);
        assert_ne!(
            field(&a.into(), &["messageId"]).as_string(),
            field(&b.into(), &["messageId"]).as_string()
        );
    }

    #[wasm_bindgen_test]
    fn non_object_properties_become_empty_and_cycles_are_refused() {
        let page = build("page", None, &JsValue::from_str("oops"), "v", None);
        assert!(field(&page.clone().into(), &["properties"]).is_object());
        assert!(field(&page.into(), &["event"]).is_undefined());
        let cyclic = Object::new();
        Reflect::set(&cyclic, &"self".into(), &cyclic).unwrap();
        assert!(JSON::stringify(&build("track", Some("Loop"), &cyclic, "v", None)).is_err());
    }
}
