//! Capture and hand-over to the outbox: who the visitor is, under what consent, and the events
//! held in memory until consent is decided.
//!
//! A captured event is built (`events`), stamped with its session (`session`) and, once
//! tracking is granted, handed as JSON to the outbox (`outbox`, JavaScript), which writes it to
//! storage shared by the site's tabs and delivers it to `POST /v1/batch` (see `js/outbox.js`:
//! one sending tab, retries with backoff, the keepalive flush when the page goes away). Before
//! consent, events wait in memory and nothing is written or sent; denial drops them and deletes
//! what the tracker wrote.

use std::cell::RefCell;

use js_sys::{Object, Reflect, JSON};
use protocol::limits::{MAX_EVENT_BYTES, TRACKER_BATCH_BYTES, TRACKER_BATCH_EVENTS};
use protocol::names;
use wasm_bindgen::prelude::*;

use crate::consent::{self, Consent};
use crate::{events, identity, outbox, session, warn, Settings};

struct Visitor {
    settings: Settings,
    /// The visitor's anonymous ID; `None` until consent allows the cookie.
    anonymous_id: Option<String>,
    /// Consent to tracking (see `consent`).
    consent: Consent,
    /// Events captured before consent was decided, waiting in memory (never in storage).
    held: Vec<Object>,
    /// The customer ID from `identify`, sent with every later event until `reset`.
    user_id: Option<String>,
}

thread_local! {
    static VISITOR: RefCell<Option<Visitor>> = const { RefCell::new(None) };
}

fn with<T>(f: impl FnOnce(&mut Visitor) -> T) -> Option<T> {
    VISITOR.with(|o| o.borrow_mut().as_mut().map(f))
}

/// Sets up capture with the site's settings; the anonymous ID cookie is read or written only
/// if consent allows, and delivery starts only then.
pub fn init(settings: Settings) {
    let existing = identity::existing_anonymous_id();
    let consent = consent::initial(&settings, existing.is_some());
    let granted = consent == Consent::Granted;
    if granted {
        start_outbox(&settings);
    }
    VISITOR.with(|o| {
        *o.borrow_mut() = Some(Visitor {
            settings,
            anonymous_id: granted.then(identity::anonymous_id),
            consent,
            held: Vec::new(),
            user_id: if granted {
                identity::stored_user_id()
            } else {
                None
            },
        })
    });
}

/// Hands the outbox where batches go, its limits and the wire names it writes.
fn start_outbox(settings: &Settings) {
    let names = Object::new();
    let config = Object::new();
    let set = |o: &Object, k: &str, v: JsValue| {
        let _ = Reflect::set(o, &k.into(), &v);
    };
    set(&names, "batch", names::BATCH.into());
    set(&names, "sentAt", names::SENT_AT.into());
    set(&names, "writeKey", names::WRITE_KEY.into());
    set(&names, "seq", names::SEQUENCE.into());
    set(
        &config,
        "url",
        [settings.endpoint.as_str(), "/v1/batch"].concat().into(),
    );
    set(&config, "key", settings.write_key.as_str().into());
    set(&config, "events", (TRACKER_BATCH_EVENTS as u32).into());
    set(&config, "bytes", (TRACKER_BATCH_BYTES as u32).into());
    set(&config, "max", (MAX_EVENT_BYTES as u32).into());
    set(&config, "names", names.into());
    outbox::start(&config);
}

/// Sets the customer ID sent with later events (`identify`), or clears it and starts a new
/// anonymous visitor (`reset`, on logout).
pub fn set_user(user_id: Option<String>) {
    with(|visitor| {
        if visitor.consent == Consent::Granted {
            identity::remember_user_id(user_id.as_deref());
            if user_id.is_none() {
                visitor.anonymous_id = Some(identity::renew_anonymous_id());
                session::forget();
            }
        }
        visitor.user_id = user_id;
    });
}

/// The current consent state.
pub fn consent() -> Consent {
    with(|o| o.consent).unwrap_or(Consent::Pending)
}

/// The visitor's anonymous ID, if consent allowed one.
pub fn anonymous_id() -> Option<String> {
    with(|o| o.anonymous_id.clone()).flatten()
}

/// Records the visitor's decision. Granting sends what was held; denying drops it and removes
/// everything the tracker wrote (the outbox too), and nothing is sent from then on.
pub fn set_consent(decision: Consent) {
    with(|visitor| {
        visitor.consent = decision;
        if decision == Consent::Granted {
            start_outbox(&visitor.settings);
            let anonymous_id = visitor
                .anonymous_id
                .get_or_insert_with(identity::anonymous_id)
                .clone();
            if let Some(user_id) = &visitor.user_id {
                identity::remember_user_id(Some(user_id));
            }
            session::persist();
            for event in std::mem::take(&mut visitor.held) {
                stamp(&event, &anonymous_id, visitor.user_id.as_deref());
                hand_over(&event);
            }
            return;
        }
        visitor.held.clear();
        visitor.anonymous_id = None;
        visitor.user_id = None;
        if decision == Consent::Denied {
            identity::forget_everything();
            session::forget();
            outbox::forget();
        }
    });
}

/// Adds who and under what consent to an event held before consent.
fn stamp(event: &Object, anonymous_id: &str, user_id: Option<&str>) {
    let _ = Reflect::set(event, &names::ANONYMOUS_ID.into(), &anonymous_id.into());
    if let Some(user_id) = user_id {
        let _ = Reflect::set(event, &names::USER_ID.into(), &user_id.into());
    }
    events::set_consent(event, Consent::Granted);
}

/// Gives an event to the outbox as JSON.
fn hand_over(event: &Object) {
    match JSON::stringify(event) {
        Ok(json) => outbox::save(&json),
        Err(error) => warn(&[&"event cannot be serialised:".into(), &error]),
    }
}

/// Captures one event: held until consent is decided, dropped if denied, else handed to the
/// outbox.
pub fn capture(kind: &str, name: Option<&str>, properties: &JsValue) {
    with(|visitor| {
        let anonymous_id = visitor.anonymous_id.clone().unwrap_or_default();
        let event = events::build(
            kind,
            name,
            properties,
            &anonymous_id,
            visitor.user_id.as_deref(),
        );
        if visitor.consent != Consent::Denied {
            let context =
                Reflect::get(&event, &names::CONTEXT.into()).unwrap_or(JsValue::UNDEFINED);
            session::stamp(&context, visitor.consent == Consent::Granted);
        }
        outbox::captured(&event);
        match visitor.consent {
            Consent::Denied => {}
            Consent::Pending => visitor.held.push(event),
            Consent::Granted => {
                events::set_consent(&event, Consent::Granted);
                hand_over(&event);
            }
        }
    });
}

/// Sends what the outbox holds now (`orbita('flush')`).
pub fn flush() {
    if consent() == Consent::Granted {
        outbox::flush();
    }
}

/// Number of events this tab captured that it has not seen answered (for tests and `ready`
/// callbacks).
pub fn pending_count() -> u32 {
    with(|o| o.held.len() as u32).unwrap_or(0) + outbox::pending()
}
