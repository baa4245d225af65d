//! Migration layer for shops coming from eSputnik/Yespo, a separate WebAssembly module the stub
//! loads only when the script tag has `data-yespo="on"` (other shops never download it). The
//! documented `eS('sendEvent', 'ProductPage', {...})` shapes (shared/handbook/yespo-web-tracking.md
//! §1) keep working: each is mapped onto Orbita's (Segment ecommerce) events and handed to the
//! tracker through its public global function, like any shop call.

use js_sys::{Array, Function, Object, Reflect};
use page_values::{get, number, text};
use protocol::ecommerce;
use wasm_bindgen::prelude::*;

fn warn(parts: &[&JsValue]) {
    let args = Array::of1(&"orbita eS:".into());
    for part in parts {
        args.push(part);
    }
    web_sys::console::warn(&args);
}

/// Calls the tracker's global function: `orbita(command, first, second)`.
fn orbita(tracker: &Function, command: &str, first: &JsValue, second: &JsValue) {
    let _ = tracker.call3(&JsValue::NULL, &command.into(), first, second);
}

fn set(target: &Object, key: &str, value: impl Into<JsValue>) {
    let _ = Reflect::set(target, &key.into(), &value.into());
}

/// Yespo's product line (`productKey`, `price`, `quantity`, `currency`) as an Orbita product line.
fn line(item: &JsValue) -> Option<Object> {
    let product = Object::new();
    set(
        &product,
        ecommerce::PRODUCT_ID,
        text(&get(item, "productKey"))?,
    );
    if let Some(price) = number(&get(item, "price")) {
        set(&product, ecommerce::PRICE, price);
    }
    set(
        &product,
        ecommerce::QUANTITY,
        number(&get(item, "quantity")).unwrap_or(1.0),
    );
    Some(product)
}

/// Product lines and the total of a list of Yespo items; the first currency seen.
fn lines(items: &JsValue) -> (Array, f64, Option<String>) {
    let out = Array::new();
    let (mut total, mut currency) = (0.0, None);
    for item in Array::from(items).iter() {
        if let Some(product) = line(&item) {
            let price = number(&get(&item, "price")).unwrap_or(0.0);
            let quantity = number(&get(&item, "quantity")).unwrap_or(1.0);
            total += price * quantity;
            currency = currency.or_else(|| text(&get(&item, "currency")));
            out.push(&product);
        }
    }
    (out, (total * 100.0).round() / 100.0, currency)
}

/// Sets the product lines of a Yespo cart or order (`items`), their currency and the cart's
/// `GUID` (which links the last cart to the purchase) on `props`; returns the lines' total.
fn set_lines(props: &Object, items: &JsValue, payload: &JsValue) -> f64 {
    let (products, total, currency) = lines(items);
    set(props, ecommerce::PRODUCTS, products);
    if let Some(currency) = currency {
        set(props, ecommerce::CURRENCY, currency);
    }
    if let Some(guid) = text(&get(payload, "GUID")) {
        set(props, "cart_id", guid);
    }
    total
}

fn track(tracker: &Function, name: &str, properties: &Object) {
    orbita(tracker, "track", &name.into(), properties);
}

/// `GeneralInfo` (in any event) or `CustomerData`: who the visitor is.
fn identify_from(tracker: &Function, info: &JsValue) {
    if !info.is_object() {
        return;
    }
    let traits = Object::new();
    for (from, to) in [
        ("user_email", "email"),
        ("user_phone", "phone"),
        ("user_name", "name"),
        ("user_city", "city"),
    ] {
        if let Some(value) = text(&get(info, from)) {
            set(&traits, to, value);
        }
    }
    let user_id = text(&get(info, "externalCustomerId"));
    if user_id.is_none() && Object::keys(&traits).length() == 0 {
        return;
    }
    match user_id {
        Some(user_id) => orbita(tracker, "identify", &user_id.into(), &traits),
        None => orbita(tracker, "identify", &traits, &JsValue::UNDEFINED),
    }
}

/// Runs one `eS(...)` call; `tracker` is the tracker's global function `window.orbita`.
#[wasm_bindgen]
pub fn command(args: Array, tracker: Function) {
    let command = args.get(0).as_string().unwrap_or_default();
    if command == "init" {
        return; // Yespo's settings; Orbita's come from the script tag.
    }
    if command != "sendEvent" {
        warn(&[&"eS: unsupported command".into(), &command.into()]);
        return;
    }
    let name = args.get(1).as_string().unwrap_or_default();
    let payload = args.get(2);
    identify_from(&tracker, &get(&payload, "GeneralInfo"));
    let body = get(&payload, &name);
    let props = Object::new();
    match name.as_str() {
        "PageView" => orbita(&tracker, "page", &JsValue::UNDEFINED, &JsValue::UNDEFINED),
        "MainPage" => track(&tracker, "Main Page Viewed", &props),
        "NotFound" => track(&tracker, "Not Found Viewed", &props),
        "StatusCartPage" => track(&tracker, "Cart Viewed", &props),
        "ProductPage" => {
            let Some(id) = text(&get(&body, "productKey")) else {
                return warn(&[&"eS ProductPage needs productKey".into()]);
            };
            set(&props, ecommerce::PRODUCT_ID, id);
            if let Some(price) = number(&get(&body, "price")) {
                set(&props, ecommerce::PRICE, price);
            }
            if let Some(in_stock) = number(&get(&body, "isInStock")) {
                set(&props, "in_stock", in_stock != 0.0);
            }
            orbita(&tracker, "productViewed", &props, &JsValue::UNDEFINED);
        }
        "StatusCart" => {
            let total = set_lines(&props, &body, &payload);
            set(&props, "value", total);
            track(&tracker, ecommerce::CART_UPDATED, &props);
        }
        "PurchasedItems" => {
            let Some(order) = text(&get(&payload, "OrderNumber")) else {
                return warn(&[&"eS PurchasedItems needs OrderNumber".into()]);
            };
            set(&props, ecommerce::ORDER_ID, order);
            let total = set_lines(&props, &body, &payload);
            set(&props, "total", total);
            track(&tracker, ecommerce::ORDER_COMPLETED, &props);
        }
        "CustomerData" => identify_from(&tracker, &body),
        "CategoryPage" => {
            set(
                &props,
                ecommerce::CATEGORY,
                text(&get(&body, "categoryKey")).unwrap_or_default(),
            );
            track(&tracker, ecommerce::PRODUCT_LIST_VIEWED, &props);
        }
        "AddToWishlist" => {
            let Some(id) = text(&get(&body, "productKey")) else {
                return warn(&[&"eS AddToWishlist needs productKey".into()]);
            };
            set(&props, ecommerce::PRODUCT_ID, id);
            if let Some(price) = number(&get(&body, "price")) {
                set(&props, ecommerce::PRICE, price);
            }
            track(&tracker, ecommerce::PRODUCT_ADDED_TO_WISHLIST, &props);
        }
        "SearchRequest" => {
            set(
                &props,
                "query",
                text(&get(&body, "search")).unwrap_or_default(),
            );
            if let Some(found) = number(&get(&body, "isFound")) {
                set(&props, "found", found != 0.0);
            }
            track(&tracker, ecommerce::PRODUCTS_SEARCHED, &props);
        }
        other => warn(&[&"eS: unknown event".into(), &other.into()]),
    }
}
