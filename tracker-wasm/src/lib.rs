//! Orbita's browser tracker, compiled to WebAssembly.
//!
//! The script-tag stub (`js/orbita.js`) defines `window.orbita`, queues calls made before this
//! module loads, then calls [`start`] with the queue; from then on it forwards each call to
//! [`command`]. The tracker sends a page view on start, builds Segment-compatible events with a
//! unique `messageId` and a client timestamp, and delivers them in batches to `POST /v1/batch`.
//!
//! Size matters here (every shop page loads it), so events are plain JS objects built with
//! `Reflect` and serialised by the browser's `JSON.stringify`; no serde in this crate.

/// The allocator: talc, much smaller than the standard library's dlmalloc (every shop page
/// downloads this module, so its bytes count). The page is single-threaded.
#[cfg(all(target_family = "wasm", not(target_feature = "atomics")))]
#[global_allocator]
static ALLOCATOR: lol_alloc::AssumeSingleThreaded<lol_alloc::FreeListAllocator> =
    // SAFETY: the tracker runs on the page's one thread (no wasm threads: the cfg above).
    unsafe { lol_alloc::AssumeSingleThreaded::new(lol_alloc::FreeListAllocator::new()) };

mod click;
mod commands;
mod consent;
mod delivery;
mod events;
mod identity;
mod js;
mod navigation;
mod outbox;
mod product_ld;
mod session;

/// Logs a warning for the shop's developer: `orbita:` then the parts, as console arguments
/// (no string formatting machinery in the wasm, which keeps the tracker small).
pub(crate) fn warn(parts: &[&JsValue]) {
    let args = Array::of1(&"orbita:".into());
    for part in parts {
        args.push(part);
    }
    web_sys::console::warn(&args);
}

use std::cell::RefCell;

use js_sys::{Array, Function, Reflect};
use wasm_bindgen::prelude::*;

/// Settings read from the stub's `data-*` attributes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Settings {
    /// Origin (and optional path prefix) of the collector; empty for the page's own origin.
    pub endpoint: String,
    /// The site's public write key.
    pub write_key: String,
    /// Send product views from schema.org JSON-LD when the shop sends none (default on).
    pub auto_product: bool,
    /// Track only after `orbita('consent', 'granted')` (`data-consent="required"`).
    pub consent_required: bool,
    /// Treat Global Privacy Control / Do Not Track as a denial (`data-respect-gpc="on"`).
    pub respect_gpc: bool,
    /// The site routes by `#fragment` (`#/products/1`): a new fragment is a new page view
    /// (`data-hash-routing="on"`).
    pub hash_routing: bool,
}

impl Settings {
    /// Reads `{endpoint, writeKey}` from the stub's config object.
    pub fn from_js(config: &JsValue) -> Self {
        let text = |key: &str| {
            Reflect::get(config, &key.into())
                .ok()
                .and_then(|v| v.as_string())
                .unwrap_or_default()
        };
        Settings {
            endpoint: text("endpoint").trim_end_matches('/').into(),
            write_key: text("writeKey"),
            auto_product: text("autoProduct") != "off",
            consent_required: text("consent") == "required",
            respect_gpc: text("respectGpc") == "on",
            hash_routing: text("hashRouting") == "on",
        }
    }
}

/// Starts the tracker: remembers the visitor, sends the page view (and one per single-page-app
/// navigation), replays the queued calls, sends a product view from the page's JSON-LD if the
/// shop sent none, and, if the page has a recommendation placeholder, asks the stub to load the
/// widgets.
#[wasm_bindgen]
pub fn start(config: JsValue, queue: JsValue, load_widgets: JsValue) {
    let settings = Settings::from_js(&config);
    // Before the page view, so the view is sent from a URL without the token.
    let click_token = click::take_from_address_bar();
    delivery::init(settings.clone());
    // A click token joins this device to a contact: only with consent to track.
    if let (Some(token), Some(anonymous_id)) = (click_token, delivery::anonymous_id()) {
        click::redeem(&settings, &anonymous_id, token);
    }
    navigation::start(settings.hash_routing);
    if let Ok(queue) = queue.dyn_into::<Array>() {
        for call in queue.iter() {
            command(Array::from(&call));
        }
    }
    let loader = load_widgets.dyn_into::<Function>().ok();
    ON_PARSED.with(|p| *p.borrow_mut() = Some((settings.auto_product, loader)));
    if js::get_text(&js::document(), "readyState").as_deref() == Some("loading") {
        outbox::when_parsed();
    } else {
        page_parsed();
    }
}

thread_local! {
    /// What `start` left for when the document is parsed: JSON-LD product views (on or off)
    /// and the widgets loader.
    static ON_PARSED: RefCell<Option<(bool, Option<Function>)>> = const { RefCell::new(None) };
}

/// The document is parsed: sends a product view from the page's JSON-LD if the shop sent none,
/// and, if the page has a recommendation placeholder, asks the stub to load the widgets. Once.
pub(crate) fn page_parsed() {
    let Some((auto_product, loader)) = ON_PARSED.with(|p| p.borrow_mut().take()) else {
        return;
    };
    if auto_product {
        product_ld::capture_from_page();
    }
    if let Some(loader) = loader.filter(|_| commands::page_has_placeholder()) {
        let _ = loader.call0(&JsValue::NULL);
    }
}

/// Runs one call of the global function: `orbita('track', 'Signed Up', {...})` arrives here as
/// `['track', 'Signed Up', {...}]`.
#[wasm_bindgen]
pub fn command(args: Array) {
    commands::dispatch(&args);
}

/// The visitor's anonymous ID, for the shop's own use (e.g. passing it to its backend); empty
/// while consent does not allow one.
/// (A JS string rather than a Rust `String`: no copy back through the glue, fewer bytes.)
#[wasm_bindgen(js_name = anonymousId)]
pub fn anonymous_id() -> JsValue {
    delivery::anonymous_id().unwrap_or_default().into()
}

/// The consent state: `granted`, `denied` or `pending`.
#[wasm_bindgen(js_name = consentState)]
pub fn consent_state() -> JsValue {
    delivery::consent().as_str().into()
}

/// Number of events captured but not yet acknowledged by the collector.
#[wasm_bindgen(js_name = pendingEvents)]
pub fn pending_events() -> u32 {
    delivery::pending_count()
}

#[cfg(test)]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);
