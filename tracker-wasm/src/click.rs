//! Visitors arriving through an email, SMS or push link carry a signed click token in the URL
//! (`?orb_ct=...`). The tracker hands it to the collector, which verifies it and joins this
//! device to the contact, then removes it from the address bar so it does not leak into shares,
//! bookmarks or referrers.

use js_sys::{Object, Reflect, JSON};
use protocol::ids::CLICK_TOKEN_PARAMETER as URL_PARAMETER;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::RequestInit;

use crate::{js, warn, Settings};

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
    wasm_bindgen_futures::spawn_local(async move {
        let Some(window) = web_sys::window() else {
            return;
        };
        let init = RequestInit::new();
        init.set_method("POST");
        init.set_body(&text);
        let _ = Reflect::set(&init, &"keepalive".into(), &JsValue::TRUE);
        match JsFuture::from(window.fetch_with_str_and_init(&url, &init)).await {
            Ok(resp) if resp.unchecked_ref::<web_sys::Response>().ok() => {}
            Ok(resp) => warn(&[
                &"click token refused:".into(),
                &resp.unchecked_into::<web_sys::Response>().status().into(),
            ]),
            Err(e) => warn(&[&"click token not delivered:".into(), &e]),
        }
    });
}
