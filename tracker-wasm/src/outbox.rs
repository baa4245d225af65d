//! The durable outbox shared by the site's tabs: IndexedDB (else localStorage, else memory) and
//! the Web Locks API, in a small JavaScript module (`js/outbox.js`).
//!
//! Written in JavaScript rather than through web-sys or `Reflect`: IndexedDB is callback-driven
//! (a request object per call, transaction events), and every callback wrapped for Rust costs a
//! closure shim in both the wasm and the glue; the JavaScript is a few hundred bytes gzipped.
//! Every function here resolves or rejects a promise; [`delivery`](crate::delivery) awaits them.

use js_sys::{Array, Promise};
use wasm_bindgen::prelude::*;

#[wasm_bindgen(module = "/js/outbox.js")]
extern "C" {
    /// Adds events (JSON texts, oldest first); resolves to their keys (numbers), in order.
    pub fn save(events: &Array) -> Promise;
    /// The oldest events of every tab, at most `max_events` of them and `max_bytes` of JSON
    /// (always at least one): resolves to `[keys, jsonTexts]`.
    pub fn read(max_events: u32, max_bytes: u32) -> Promise;
    /// This tab's events that it has not seen answered, oldest first, as many as fit in
    /// `max_bytes`: `[keys, jsonTexts]`, what is sent when the page goes away. Events still
    /// being written come last, without a key.
    pub fn mine(max_bytes: u32) -> Array;
    /// Removes answered events by key.
    pub fn remove(keys: &Array) -> Promise;
    /// Waits for the site-wide sending lock; resolves to the function that releases it (or to
    /// `undefined` where the browser has no Web Locks, and nothing needs releasing).
    pub fn lock() -> Promise;
    /// Deletes the outbox (consent withdrawn).
    pub fn forget();
}
