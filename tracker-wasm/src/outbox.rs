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
    /// The oldest `max` events of every tab: resolves to `[keys, jsonTexts]`.
    pub fn read(max: u32) -> Promise;
    /// Removes answered events by key.
    pub fn remove(keys: &Array) -> Promise;
    /// Waits for the site-wide sending lock; resolves to the function that releases it (or to
    /// `undefined` where the browser has no Web Locks, and nothing needs releasing).
    pub fn lock() -> Promise;
    /// Deletes the outbox (consent withdrawn).
    pub fn forget();
}
