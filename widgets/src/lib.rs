//! Orbita's on-site widgets, a WebAssembly module the tracker loads only on pages that need it.
//!
//! First widget: recommendation blocks. A shop marks a spot with
//! `<div data-orbita-placement="home" style="min-height: 340px"></div>`; [`render`] fetches the
//! block from `GET /v1/recommendations` and draws product cards into a shadow root, so the
//! shop's CSS and ours never clash. Every string from the feed is set as text, never as HTML,
//! and links and images are limited to http(s) URLs.

/// The allocator: lol_alloc's free list, much smaller than the standard library's dlmalloc (as
/// in the tracker).
#[cfg(all(target_family = "wasm", not(target_feature = "atomics")))]
#[global_allocator]
static ALLOCATOR: lol_alloc::AssumeSingleThreaded<lol_alloc::FreeListAllocator> =
    // SAFETY: the widgets run on the page's one thread (no wasm threads: the cfg above).
    unsafe { lol_alloc::AssumeSingleThreaded::new(lol_alloc::FreeListAllocator::new()) };

mod cards;
mod forms;
pub mod push;
pub mod rules;

use js_sys::{Function, Reflect};
use protocol::recommendation as reco;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Element, Response};

/// Fills every recommendation placeholder on the page. `config` is the tracker's settings
/// (`endpoint`); `orbita` is the tracker's global function, used to report clicks.
#[wasm_bindgen]
pub fn render(config: JsValue, orbita: JsValue) {
    let endpoint = Reflect::get(&config, &"endpoint".into())
        .ok()
        .and_then(|v| v.as_string())
        .unwrap_or_default()
        .trim_end_matches('/')
        .to_string();
    let orbita = orbita.dyn_into::<Function>().ok();
    let Some(doc) = web_sys::window().and_then(|w| w.document()) else {
        return;
    };
    let Ok(list) = doc.query_selector_all("[data-orbita-placement]") else {
        return;
    };
    for i in 0..list.length() {
        let Some(host) = list.item(i).and_then(|n| n.dyn_into::<Element>().ok()) else {
            continue;
        };
        let endpoint = endpoint.clone();
        let orbita = orbita.clone();
        wasm_bindgen_futures::spawn_local(async move {
            if let Err(e) = fill(&host, &endpoint, orbita).await {
                web_sys::console::warn_2(&"orbita: recommendation block not shown:".into(), &e);
            }
        });
    }
}

/// Fetches one placement's block and draws it into `host`.
async fn fill(host: &Element, endpoint: &str, orbita: Option<Function>) -> Result<(), JsValue> {
    let placement = host
        .get_attribute("data-orbita-placement")
        .unwrap_or_default();
    let limit = host
        .get_attribute("data-orbita-limit")
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|n| (1..=reco::MAX_LIMIT).contains(n))
        .unwrap_or(reco::DEFAULT_LIMIT);
    let placement_param = String::from(js_sys::encode_uri_component(&placement));
    let limit = cards::decimal(limit as i32);
    let mut url = [
        endpoint,
        "/v1/recommendations?",
        reco::PLACEMENT,
        "=",
        &placement_param,
        "&",
        reco::LIMIT,
        "=",
        &limit,
    ]
    .concat();
    if let Some(product) = host.get_attribute("data-orbita-product") {
        let product = String::from(js_sys::encode_uri_component(&product));
        url.extend(["&", reco::PRODUCT, "=", &product]);
    }
    let window = web_sys::window().ok_or("no window")?;
    let response: Response = JsFuture::from(window.fetch_with_str(&url))
        .await?
        .dyn_into()?;
    if !response.ok() {
        return Err(JsValue::from(response.status()));
    }
    let block = JsFuture::from(response.json()?).await?;
    cards::draw(host, &block, &placement, orbita)
}

#[cfg(test)]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);
