//! Visitors arriving through an email, SMS or push link carry a signed click token in the URL
//! (`?orb_ct=...`). The tracker hands it to the collector, which verifies it and joins this
//! device to the contact, then removes it from the address bar so it does not leak into shares,
//! bookmarks or referrers.

use js_sys::{Object, Reflect, JSON};
use protocol::ids::CLICK_TOKEN_PARAMETER as URL_PARAMETER;
use wasm_bindgen::prelude::*;

use crate::{js, Settings};

/// The token in the page's URL, if any; removes it from the address bar either way.
pub fn take_from_address_bar() -> Option<String> {
    let url = js::url(&js::href()).ok()?;
    let token = js::query_parameter(&url, URL_PARAMETER)?;
    let _ = js::call(
        &js::get(&url, "searchParams"),
        "delete",
        &[&URL_PARAMETER.into()],
    );
    let clean = js::get(&url, "href");
    let history = js::get(&js::window(), "history");
    let _ = js::call(
        &history,
        "replaceState",
        &[&JsValue::NULL, &"".into(), &clean],
    );
    (!token.is_empty()).then_some(token)
}

/// Sends the token to the collector with the visitor's anonymous ID.
pub fn redeem(settings: &Settings, anonymous_id: &str, token: String) {
    let body = Object::new();
    let _ = Reflect::set(&body, &"token".into(), &token.into());
    let _ = Reflect::set(&body, &"anonymousId".into(), &anonymous_id.into());
    let _ = Reflect::set(
        &body,
        &"writeKey".into(),
        &settings.write_key.as_str().into(),
    );
    let Ok(text) = JSON::stringify(&body) else {
        return;
    };
    let url = [settings.endpoint.as_str(), "/v1/click-token"].concat();
    crate::outbox::post(&url, &text);
}
