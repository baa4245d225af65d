//! Orbita's on-site widgets, a WebAssembly module the tracker loads only on pages that need it:
//! recommendation blocks ([`render`], `cards`), subscription forms and the web-push soft prompt
//! (`forms`, [`rules`], [`push`]).
//!
//! The decisions are made here in Rust: what a block asks the collector for, which feed values
//! a card may show (text as text, http(s) links only), what its events carry, which widget the
//! rules let through, which A/B variant a visitor gets, what a subscription's outcome means.
//! The browser plumbing is JavaScript (`js/browser.js`): fetching, drawing, DOM listeners and
//! the promise-based push APIs. It hands what a promise or an event settled back to [`answer`],
//! this module's one callback; no Rust closure or future crosses the boundary (each costs a
//! shim in the wasm and the glue, and futures the runtime with them: without them the module
//! went from 36,023 to 28,948 B gzip, README's size levers).

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

use js_sys::Reflect;
use wasm_bindgen::prelude::*;

pub use cards::render;

#[wasm_bindgen]
extern "C" {
    /// `import.meta` of the glue (the JavaScript module wasm-bindgen generates for this crate).
    #[wasm_bindgen(thread_local_v2, js_namespace = import, js_name = meta)]
    static META: JsValue;
}

/// The glue's URL: the JavaScript modules `import()` it (the module the page already loaded)
/// to call [`answer`].
pub(crate) fn glue() -> JsValue {
    META.with(|meta| get(meta, "url"))
}

/// `value[key]`, or `undefined`.
pub(crate) fn get(value: &JsValue, key: &str) -> JsValue {
    Reflect::get(value, &key.into()).unwrap_or(JsValue::UNDEFINED)
}

/// Where the JavaScript modules hand back what a promise or an event settled: `what` names
/// it, `result` is what the browser gave, `ctx` what the Rust side gave them to hand back.
///
/// - `block`: a recommendation block arrived (`result`: the `/v1/recommendations` answer,
///   `ctx`: `[host, orbita]`); draws it.
/// - `fire`: a widget's trigger fired (`result`: whether the page asked, `ctx`: the widget ID);
///   shows it if the rules allow.
/// - `done`: the visitor closed, submitted or allowed a widget (`result`: `close`, `closed`,
///   `submit` or `allow`; `ctx`: `[widget ID, variant name]`).
/// - `push`: a web push subscription attempt ended (`result`: `[outcome, reason]`, `ctx`:
///   `[orbita, widget ID, variant name]`); answers `{outcome, reason}`.
#[wasm_bindgen(js_name = _answer)]
pub fn answer(what: &str, result: JsValue, ctx: JsValue) -> JsValue {
    match what {
        "block" => cards::arrived(&result, &ctx),
        "fire" => forms::fire(&ctx.as_string().unwrap_or_default(), result.is_truthy()),
        "visitor" => forms::profile_arrived(&result),
        "done" => {
            let ctx = js_sys::Array::from(&ctx);
            let id = ctx.get(0).as_string().unwrap_or_default();
            let what = result.as_string().unwrap_or_default();
            forms::done(&id, &what, &ctx.get(1));
        }
        "push" => return push::settled(&result, &ctx),
        _ => {}
    }
    JsValue::UNDEFINED
}

#[cfg(test)]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);
