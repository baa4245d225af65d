//! Page views in single-page apps: a page view on each `history.pushState`/`replaceState` that
//! changes the address and on back/forward (`popstate`), never two for one navigation. Fragment
//! changes are not page views, unless the site routes by fragment (`data-hash-routing="on"`):
//! then each new `#/route` is one (`hashchange`).

use std::cell::RefCell;

use wasm_bindgen::JsValue;

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
/// `hashchange`) for later ones: the outbox module calls `orbita('_moved')`, which comes back
/// here as [`page_if_moved`].
pub fn start(hash_routing: bool) {
    HASH_ROUTING.with(|h| *h.borrow_mut() = hash_routing);
    page_if_moved();
    crate::outbox::watch(hash_routing);
}
