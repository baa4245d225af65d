//! Page views in single-page apps: a page view on each `history.pushState`/`replaceState` that
//! changes the address and on back/forward (`popstate`), never two for one navigation.

use std::cell::RefCell;

use js_sys::{Array, Function, Reflect};
use wasm_bindgen::prelude::*;

use crate::{commands, js};

thread_local! {
    /// The address of the last page view (without the fragment).
    static LAST: RefCell<String> = const { RefCell::new(String::new()) };
}

/// The page's address without its `#fragment` (fragment changes are not page views).
fn current() -> String {
    let href = js::href();
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

/// Sends the first page view and watches the History API for later ones.
pub fn start() {
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
    let on_popstate = Closure::<dyn Fn()>::new(page_if_moved);
    let _ = js::call(
        &window,
        "addEventListener",
        &[&"popstate".into(), on_popstate.as_ref()],
    );
    on_popstate.forget();
}
