//! The durable outbox shared by the site's tabs, and delivery to `POST /v1/batch`, in a small
//! JavaScript module (`js/outbox.js`): IndexedDB (else localStorage under a Web Lock, else
//! memory), one sending tab at a time (Web Locks API), batches, retries with backoff, the
//! keepalive flush when the page goes away, and the per-session event numbers shared by tabs.
//!
//! Written in JavaScript rather than through web-sys or `Reflect`: IndexedDB, Web Locks and
//! `fetch` are callback and promise APIs, and every callback or `async` block in Rust costs a
//! closure shim or a state machine (and the futures runtime) in the wasm and the glue; moving
//! delivery here took the tracker from 32,967 to about 27,000 bytes gzip (README, size table).

use js_sys::Object;
use wasm_bindgen::prelude::*;

#[wasm_bindgen(module = "/js/outbox.js")]
extern "C" {
    /// Takes one event (its JSON); events taken in one task are written together.
    pub fn save(event: &JsValue);
    /// Starts delivery (consent granted): `{url, key, events, bytes, max, names}`.
    pub fn start(settings: &Object);
    /// Number of this tab's events not yet answered by the collector.
    pub fn pending() -> u32;
    /// Sends what the outbox holds now.
    pub fn flush();
    /// Logs events, batches and verdicts to the console, or stops.
    pub fn debug(on: bool);
    /// Logs a captured event when debugging.
    pub fn captured(event: &JsValue);
    /// Posts a JSON text with keepalive, warning if it is refused (the click token).
    pub fn post(url: &str, text: &JsValue);
    /// Stops delivery and deletes the outbox (consent withdrawn).
    pub fn forget();
    /// Watches single-page-app navigation: `orbita('_moved')` after each History API change
    /// (and `hashchange` with `hash_routing`).
    pub fn watch(hash_routing: bool);
    /// `orbita('_parsed')` once the document is parsed.
    #[wasm_bindgen(js_name = whenParsed)]
    pub fn when_parsed();
}
