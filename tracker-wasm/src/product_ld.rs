//! Zero-code product views: most shops already describe their product pages for search engines
//! with schema.org `Product` JSON-LD. If a page has one and the shop did not send a product view
//! itself, the tracker sends it from that description. `data-auto-product="off"` on the script
//! tag turns this off.

use std::cell::Cell;

use js_sys::{Array, Object, Reflect, JSON};
use protocol::ecommerce;
use wasm_bindgen::prelude::*;

use page_values::{get, json_ld_product, json_ld_product_id, number, text};

use crate::{delivery, js};

thread_local! {
    static PRODUCT_VIEW_SENT: Cell<bool> = const { Cell::new(false) };
}

/// Notes that this page view already has a product view (sent by the shop).
pub fn note_product_view() {
    PRODUCT_VIEW_SENT.with(|s| s.set(true));
}

/// Turns a JSON-LD product into the properties of `Product Viewed`.
pub fn properties(product: &JsValue) -> Option<Object> {
    let id = json_ld_product_id(product)?;
    let props = Object::new();
    let set = |k: &str, v: JsValue| {
        let _ = Reflect::set(&props, &k.into(), &v);
    };
    set(ecommerce::PRODUCT_ID, id.into());
    if let Some(name) = text(&get(product, "name")) {
        set("name", name.into());
    }
    let mut offers = get(product, "offers");
    if Array::is_array(&offers) {
        offers = Array::from(&offers).get(0);
    }
    // JSON-LD prices are often strings ("49.00").
    let price = number(&get(&offers, "price"));
    if let Some(price) = price {
        set(ecommerce::PRICE, price.into());
    }
    if let Some(currency) = text(&get(&offers, "priceCurrency")) {
        set(ecommerce::CURRENCY, currency.into());
    }
    set("source", "json-ld".into());
    Some(props)
}

/// Sends the product view from the page's JSON-LD, unless the shop already sent one.
pub fn capture_from_page() {
    if PRODUCT_VIEW_SENT.with(Cell::get) {
        return;
    }
    let selector = "script[type='application/ld+json']".into();
    let Ok(scripts) = js::call(&js::document(), "querySelectorAll", &[&selector]) else {
        return;
    };
    for script in Array::from(&scripts).iter() {
        let Some(text) = js::get_text(&script, "textContent") else {
            continue;
        };
        let Ok(value) = JSON::parse(&text) else {
            continue;
        };
        if let Some(props) = json_ld_product(&value).and_then(|p| properties(&p)) {
            note_product_view();
            delivery::capture(
                protocol::names::types::TRACK,
                Some(ecommerce::PRODUCT_VIEWED),
                &props,
            );
            return;
        }
    }
}
