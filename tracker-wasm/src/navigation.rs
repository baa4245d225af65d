//! Page views in single-page apps: a page view on each `history.pushState`/`replaceState` that
//! changes the address and on back/forward (`popstate`), never two for one navigation. Fragment
//! changes are not page views, unless the site routes by fragment (`data-hash-routing="on"`):
//! then each new `#/route` is one (`hashchange`).

use std::cell::RefCell;

use js_sys::{Array, Function, Reflect};
use wasm_bindgen::prelude::*;

use crate::{commands, js};

thread_local! {
    /// The address of the last page view (without the fragment, unless routing by fragment).
    static LAST: RefCell<String> = const { RefCell::new(String::new()) };
    /// Whether the fragment is part of the route (`data-hash-routing="on"`).
    static HASH_ROUTING: RefCell<bool> = const { RefCell::new(false) };
}

/// The page's address as a route: without its `#fragment`, unless the site routes by fragment.
fn current() -> String {
    let href = js::href();
    if HASH_ROUTING.with(|h| *h.borrow()) {
        return href;
    }
    href.split('#').next().unwrap_or_default().to_string()
}

/// Sends a page view if the address differs from the last one sent.
pub fn page_if_moved() {
    let now = current();
    let moved = LAST.with(|last| {
        let mut last = last.borrow_mut();
        (*last != now).then(|| *last = now).is_some()
    });
    if moved {
        commands::page(&JsValue::UNDEFINED);
    }
}

/// Sends the first page view and watches the History API (and, when the site routes by fragment,
/// `hashchange`) for later ones.
pub fn start(hash_routing: bool) {
    HASH_ROUTING.with(|h| *h.borrow_mut() = hash_routing);
    page_if_moved();
    let window = js::window();
    let history = js::get(&window, "history");
    if !history.is_object() {
        return;
    }
    for method in ["pushState", "replaceState"] {
        let Ok(original) =
            Reflect::get(&history, &method.into()).and_then(|f| f.dyn_into::<Function>())
        else {
            continue;
        };
        let target = history.clone();
        let wrapped = Closure::<dyn Fn(JsValue, JsValue, JsValue) -> JsValue>::new(
            move |state, title, url| {
                let args = Array::of3(&state, &title, &url);
                let result = original.apply(&target, &args).unwrap_or(JsValue::UNDEFINED);
                page_if_moved();
                result
            },
        );
        let _ = Reflect::set(&history, &method.into(), wrapped.as_ref());
        wrapped.forget();
    }
    let on_move = Closure::<dyn Fn()>::new(page_if_moved);
    // Both events fire for a fragment change; `page_if_moved` sends one page view.
    let events: &[&str] = if hash_routing {
        &["popstate", "hashchange"]
    } else {
        &["popstate"]
    };
    for event in events {
        let _ = js::call(
            &window,
            "addEventListener",
            &[&(*event).into(), on_move.as_ref()],
        );
    }
    on_move.forget();
}
