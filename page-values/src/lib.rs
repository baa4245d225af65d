//! Reading the loosely typed values a shop's page hands Orbita's browser modules: a field that
//! may be missing, an ID that may be a string or a number, a price that may be `"49.90"`.
//! Numbers are formatted and parsed by JavaScript, which keeps Rust's `core::fmt` and float
//! parser (kilobytes each) out of the wasm.
#![no_std]

extern crate alloc;

use alloc::string::{String, ToString};
use js_sys::Reflect;
use wasm_bindgen::JsValue;

/// `value[key]`, or `undefined`.
pub fn get(value: &JsValue, key: &str) -> JsValue {
    Reflect::get(value, &key.into()).unwrap_or(JsValue::UNDEFINED)
}

/// A non-empty string, or a number as decimal text, trimmed.
pub fn text(value: &JsValue) -> Option<String> {
    let text = match (value.as_string(), value.as_f64()) {
        (Some(s), _) => s,
        (None, Some(n)) => String::from(js_sys::Number::from(n).to_string_with_radix(10).ok()?),
        _ => return None,
    };
    (!text.trim().is_empty()).then(|| text.trim().to_string())
}

/// A finite number, or a numeric string such as `"49.90"`.
pub fn number(value: &JsValue) -> Option<f64> {
    value
        .as_f64()
        .or_else(|| value.as_string().map(|s| js_sys::parse_float(&s)))
        .filter(|n| n.is_finite())
}

/// The first schema.org `Product` in a JSON-LD value (an object, a list, or an `@graph`), as
/// shops publish on product pages for search engines.
pub fn json_ld_product(value: &JsValue) -> Option<JsValue> {
    if js_sys::Array::is_array(value) {
        return js_sys::Array::from(value)
            .iter()
            .find_map(|v| json_ld_product(&v));
    }
    if !value.is_object() {
        return None;
    }
    let kind = get(value, "@type");
    let is_product = kind.as_string().as_deref() == Some("Product")
        || (js_sys::Array::is_array(&kind)
            && js_sys::Array::from(&kind)
                .iter()
                .any(|k| k.as_string().as_deref() == Some("Product")));
    if is_product {
        return Some(value.clone());
    }
    json_ld_product(&get(value, "@graph"))
}

/// A JSON-LD product's ID: its `sku`, else `productID`, `mpn` or `@id`. (Inlined: as a call
/// it cost the tracker's wasm about 40 bytes gzip.)
#[inline]
pub fn json_ld_product_id(product: &JsValue) -> Option<String> {
    ["sku", "productID", "mpn", "@id"]
        .iter()
        .find_map(|k| text(&get(product, k)))
}
