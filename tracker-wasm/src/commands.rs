//! The global function's commands, mapped onto events.

use js_sys::{Array, Function, Reflect};
use protocol::{ecommerce, names::types};
use wasm_bindgen::prelude::*;

use crate::{delivery, js, warn};

/// Sends a page view with the shop's optional properties.
pub fn page(properties: &JsValue) {
    delivery::capture(types::PAGE, None, properties);
}

/// Runs `orbita(name, ...args)`.
pub fn dispatch(args: &Array) {
    let name = args.get(0).as_string().unwrap_or_default();
    let first = args.get(1);
    let second = args.get(2);
    match name.as_str() {
        "page" => page(&first),
        "track" => match first.as_string() {
            Some(event) if !event.is_empty() => {
                delivery::capture(types::TRACK, Some(&event), &second)
            }
            _ => warn(&[&"track needs an event name: orbita('track', 'Signed Up', {...})".into()]),
        },
        // Ecommerce shortcuts, named as the shop thinks of them.
        "productViewed" => {
            crate::product_ld::note_product_view();
            ecommerce_event(ecommerce::PRODUCT_VIEWED, &first, ecommerce::PRODUCT_ID)
        }
        "categoryViewed" => {
            ecommerce_event(ecommerce::PRODUCT_LIST_VIEWED, &first, ecommerce::CATEGORY)
        }
        "cart" => ecommerce_event(ecommerce::CART_UPDATED, &first, ecommerce::PRODUCTS),
        "purchase" => ecommerce_event(ecommerce::ORDER_COMPLETED, &first, ecommerce::ORDER_ID),
        "search" => delivery::capture(types::TRACK, Some(ecommerce::PRODUCTS_SEARCHED), &first),
        "checkout" => delivery::capture(types::TRACK, Some(ecommerce::CHECKOUT_STARTED), &first),
        "wishlistAdded" => ecommerce_event(
            ecommerce::PRODUCT_ADDED_TO_WISHLIST,
            &first,
            ecommerce::PRODUCT_ID,
        ),
        "wishlistRemoved" => ecommerce_event(
            ecommerce::PRODUCT_REMOVED_FROM_WISHLIST,
            &first,
            ecommerce::PRODUCT_ID,
        ),
        "ready" => match first.dyn_into::<Function>() {
            Ok(callback) => {
                let _ = callback.call0(&JsValue::NULL);
            }
            Err(_) => warn(&[&"ready needs a function".into()]),
        },
        "identify" => identify(&first, &second),
        "reset" => delivery::set_user(None),
        "consent" => match first
            .as_string()
            .as_deref()
            .and_then(crate::consent::Consent::parse)
        {
            Some(decision) => delivery::set_consent(decision),
            None => warn(&[&"consent takes 'granted' or 'denied'".into()]),
        },
        "flush" => delivery::flush(),
        // Internal: from the outbox module's listeners (see `outbox::watch`, `when_parsed`).
        "_moved" => crate::navigation::page_if_moved(),
        "_parsed" => crate::page_parsed(),
        // `orbita('debug')` or `orbita('debug', true)` logs events, batches and verdicts;
        // `orbita('debug', false)` stops.
        "debug" => crate::outbox::debug(first.as_bool() != Some(false)),
        other => warn(&[&"unknown command".into(), &other.into()]),
    }
}

/// `identify(userId, traits)` or `identify(traits)`: who the visitor is. The customer ID (if
/// given) is sent with every later event until `reset`; the collector joins this device's
/// history to the customer.
fn identify(first: &JsValue, second: &JsValue) {
    let (user_id, traits) = match first.as_string().filter(|u| !u.is_empty()) {
        Some(user_id) => (Some(user_id), second),
        None if first.is_object() => (None, first),
        None => {
            warn(&[
                &"identify needs a customer ID or traits: orbita('identify', 'crm-42', {email})"
                    .into(),
            ]);
            return;
        }
    };
    if user_id.is_some() {
        delivery::set_user(user_id);
    }
    delivery::capture(types::IDENTIFY, None, traits);
}

/// Captures an ecommerce event after checking the one property the collector requires, so the
/// shop's developer sees the mistake in the console rather than in a rejected verdict.
fn ecommerce_event(event: &str, properties: &JsValue, required: &str) {
    let present =
        Reflect::get(properties, &required.into()).is_ok_and(|v| !v.is_undefined() && !v.is_null());
    if !present {
        warn(&[
            &event.into(),
            &"needs".into(),
            &required.into(),
            &"- event not sent".into(),
        ]);
        return;
    }
    delivery::capture(types::TRACK, Some(event), properties);
}

/// Whether the page has a recommendation placeholder (then the widgets module is loaded).
pub fn page_has_placeholder() -> bool {
    js::call(
        &js::document(),
        "querySelector",
        &[&"[data-orbita-placement]".into()],
    )
    .is_ok_and(|found| found.is_object())
}
