//! Browser APIs read and called by name through `Reflect`. Each typed `web-sys` binding is one
//! more import of the wasm module with its own function in the JavaScript glue (about 50 bytes
//! gzip each, every shop page downloads them); going through these few helpers costs none.

use js_sys::{Array, Function, Reflect};
use wasm_bindgen::{JsCast, JsValue};

/// `target[key]`, or `undefined`.
pub fn get(target: &JsValue, key: &str) -> JsValue {
    page_values::get(target, key)
}

/// `target[key]` if it is a string.
pub fn get_text(target: &JsValue, key: &str) -> Option<String> {
    get(target, key).as_string()
}

/// `target[key] = value`; false if the browser refused (e.g. a setter threw).
pub fn set(target: &JsValue, key: &str, value: &JsValue) -> bool {
    Reflect::set(target, &key.into(), value).unwrap_or(false)
}

/// `target.method(...args)`; `Err` if it is not a function or threw.
pub fn call(target: &JsValue, method: &str, args: &[&JsValue]) -> Result<JsValue, JsValue> {
    let function = get(target, method).dyn_into::<Function>()?;
    let list = Array::new();
    for arg in args {
        list.push(arg);
    }
    function.apply(target, &list)
}

/// The page's global object (`window`).
pub fn window() -> JsValue {
    js_sys::global().into()
}

/// `window.document`, or `undefined`.
pub fn document() -> JsValue {
    get(&window(), "document")
}

/// `window.location`, or `undefined`.
pub fn location() -> JsValue {
    get(&window(), "location")
}

/// The page's address (`location.href`), or empty.
pub fn href() -> String {
    get_text(&location(), "href").unwrap_or_default()
}

/// `new URL(address)`, or `Err` if the address is not a URL.
pub fn url(address: &str) -> Result<JsValue, JsValue> {
    let constructor = get(&window(), "URL").dyn_into::<Function>()?;
    Reflect::construct(&constructor, &Array::of1(&address.into()))
}

/// The value of query parameter `name` of a `URL` object, if present.
pub fn query_parameter(url: &JsValue, name: &str) -> Option<String> {
    call(&get(url, "searchParams"), "get", &[&name.into()])
        .ok()?
        .as_string()
}
