//! Batching and delivery to `POST /v1/batch`.
//!
//! Events wait in memory until a batch is full (count or bytes) or a short delay passes, then go
//! out as one `fetch` with `keepalive`, so a batch in flight survives the page being closed. A
//! batch is dropped only when the collector answered it (2xx, or a definitive 4xx); network
//! errors, 5xx and 429 put it back and retry with exponential backoff and jitter (honouring
//! `Retry-After`). On `pagehide` and when the page is hidden, what is pending is sent at once.
//! The durable, cross-tab outbox (IndexedDB) builds on this later.

use std::cell::RefCell;
use std::collections::VecDeque;

use js_sys::{Array, Date, Reflect, JSON};
use protocol::limits::{MAX_EVENT_BYTES, TRACKER_BATCH_BYTES, TRACKER_BATCH_EVENTS};
use protocol::names;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{RequestInit, Response};

use crate::consent::{self, Consent};
use crate::{events, identity, session, warn, Settings};

/// How long an event may wait for companions before its batch is sent.
const BATCH_DELAY_MS: i32 = 250;
/// Longest wait between retries.
const MAX_BACKOFF_MS: f64 = 60_000.0;

struct Outbox {
    settings: Settings,
    /// The visitor's anonymous ID; `None` until consent allows the cookie.
    anonymous_id: Option<String>,
    /// Consent to tracking (see `consent`).
    consent: Consent,
    /// Events captured before consent was decided, waiting in memory (never in storage).
    held: Vec<js_sys::Object>,
    /// The customer ID from `identify`, sent with every event until `reset`.
    user_id: Option<String>,
    /// Serialised events not yet acknowledged, oldest first.
    pending: VecDeque<String>,
    /// A request is in flight (one at a time keeps order and avoids duplicate sends).
    sending: bool,
    /// A delayed flush is scheduled.
    timer: bool,
    /// Consecutive failed attempts, for backoff.
    failures: u32,
}

thread_local! {
    static OUTBOX: RefCell<Option<Outbox>> = const { RefCell::new(None) };
}

/// Sets up delivery with the site's settings; the anonymous ID cookie is read or written only
/// if consent allows.
pub fn init(settings: Settings) {
    let existing = identity::existing_anonymous_id();
    let consent = consent::initial(&settings, existing.is_some());
    let granted = consent == Consent::Granted;
    OUTBOX.with(|o| {
        *o.borrow_mut() = Some(Outbox {
            settings,
            anonymous_id: granted.then(identity::anonymous_id),
            consent,
            held: Vec::new(),
            user_id: if granted {
                identity::stored_user_id()
            } else {
                None
            },
            pending: VecDeque::new(),
            sending: false,
            timer: false,
            failures: 0,
        })
    });
}

/// Sets the customer ID sent with later events (`identify`), or clears it and starts a new
/// anonymous visitor (`reset`, on logout).
pub fn set_user(user_id: Option<String>) {
    OUTBOX.with(|o| {
        if let Some(outbox) = o.borrow_mut().as_mut() {
            if outbox.consent == Consent::Granted {
                identity::remember_user_id(user_id.as_deref());
                if user_id.is_none() {
                    outbox.anonymous_id = Some(identity::renew_anonymous_id());
                    session::forget();
                }
            }
            outbox.user_id = user_id;
        }
    });
}

/// The current consent state.
pub fn consent() -> Consent {
    OUTBOX.with(|o| o.borrow().as_ref().map_or(Consent::Pending, |o| o.consent))
}

/// The visitor's anonymous ID, if consent allowed one.
pub fn anonymous_id() -> Option<String> {
    OUTBOX.with(|o| o.borrow().as_ref().and_then(|o| o.anonymous_id.clone()))
}

/// Records the visitor's decision. Granting sends what was held; denying drops it and removes
/// everything the tracker wrote, and nothing is sent from then on.
pub fn set_consent(decision: Consent) {
    let release = OUTBOX.with(|o| {
        let mut o = o.borrow_mut();
        let outbox = o.as_mut()?;
        outbox.consent = decision;
        match decision {
            Consent::Granted => {
                let anonymous_id = outbox
                    .anonymous_id
                    .get_or_insert_with(identity::anonymous_id)
                    .clone();
                if let Some(user_id) = &outbox.user_id {
                    identity::remember_user_id(Some(user_id));
                }
                session::persist();
                for event in std::mem::take(&mut outbox.held) {
                    stamp(&event, &anonymous_id, outbox.user_id.as_deref());
                    if let Ok(json) = events::to_json(&event) {
                        outbox.pending.push_back(json);
                    }
                }
                Some(())
            }
            _ => {
                outbox.held.clear();
                outbox.pending.clear();
                outbox.anonymous_id = None;
                outbox.user_id = None;
                if decision == Consent::Denied {
                    identity::forget_everything();
                    session::forget();
                }
                None
            }
        }
    });
    if release.is_some() {
        schedule(0);
    }
}

/// Adds who and under what consent to an event held before consent.
fn stamp(event: &js_sys::Object, anonymous_id: &str, user_id: Option<&str>) {
    let _ = Reflect::set(event, &names::ANONYMOUS_ID.into(), &anonymous_id.into());
    if let Some(user_id) = user_id {
        let _ = Reflect::set(event, &names::USER_ID.into(), &user_id.into());
    }
    events::set_consent(event, Consent::Granted);
}

/// Captures one event and schedules its delivery.
pub fn capture(kind: &str, name: Option<&str>, properties: &JsValue) {
    let full = OUTBOX.with(|o| {
        let mut o = o.borrow_mut();
        let Some(outbox) = o.as_mut() else {
            return false;
        };
        let anonymous_id = outbox.anonymous_id.clone().unwrap_or_default();
        let event = events::build(
            kind,
            name,
            properties,
            &anonymous_id,
            outbox.user_id.as_deref(),
        );
        if outbox.consent != Consent::Denied {
            let context =
                Reflect::get(&event, &names::CONTEXT.into()).unwrap_or(JsValue::UNDEFINED);
            session::stamp(&context, outbox.consent == Consent::Granted);
        }
        match outbox.consent {
            Consent::Denied => return false,
            Consent::Pending => {
                outbox.held.push(event);
                return false;
            }
            Consent::Granted => events::set_consent(&event, Consent::Granted),
        }
        match events::to_json(&event) {
            Ok(json) if json.len() > MAX_EVENT_BYTES => {
                let size = JsValue::from(json.len() as u32);
                warn(&[
                    &"event not sent, bytes over the limit:".into(),
                    &size,
                    &JsValue::from(MAX_EVENT_BYTES as u32),
                ]);
            }
            Ok(json) => outbox.pending.push_back(json),
            Err(error) => warn(&[&"event cannot be serialised:".into(), &error]),
        }
        outbox.pending.len() >= TRACKER_BATCH_EVENTS
    });
    if full {
        flush(false);
    } else {
        schedule(BATCH_DELAY_MS);
    }
}

fn schedule(delay_ms: i32) {
    let already = OUTBOX.with(|o| {
        let mut o = o.borrow_mut();
        let Some(outbox) = o.as_mut() else {
            return true;
        };
        std::mem::replace(&mut outbox.timer, true)
    });
    if already {
        return;
    }
    let callback = Closure::once_into_js(|| {
        OUTBOX.with(|o| {
            if let Some(outbox) = o.borrow_mut().as_mut() {
                outbox.timer = false;
            }
        });
        flush(false);
    });
    if let Some(window) = web_sys::window() {
        let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(
            callback.unchecked_ref(),
            delay_ms,
        );
    }
}

/// Takes the next batch off the front of `pending`: at most `TRACKER_BATCH_EVENTS` events and
/// `TRACKER_BATCH_BYTES` bytes (always at least one event).
fn next_batch(pending: &mut VecDeque<String>) -> Vec<String> {
    let mut batch = Vec::new();
    let mut bytes = 0;
    while let Some(next) = pending.front() {
        if !batch.is_empty()
            && (batch.len() >= TRACKER_BATCH_EVENTS || bytes + next.len() > TRACKER_BATCH_BYTES)
        {
            break;
        }
        bytes += next.len() + 1;
        batch.extend(pending.pop_front());
    }
    batch
}

/// The request body for a batch: Segment's `{"batch": [...], "sentAt": ..., "writeKey": ...}`.
pub fn body(events: &[String], write_key: &str) -> String {
    let key = JSON::stringify(&JsValue::from_str(write_key))
        .ok()
        .and_then(|k| k.as_string())
        .unwrap_or_default();
    let sent_at = Date::new_0()
        .to_iso_string()
        .as_string()
        .unwrap_or_default();
    let mut out = String::with_capacity(events.iter().map(|e| e.len() + 1).sum::<usize>() + 96);
    for part in ["{\"", names::BATCH, "\":["] {
        out.push_str(part);
    }
    for (i, event) in events.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(event);
    }
    for part in [
        "],\"",
        names::SENT_AT,
        "\":\"",
        &sent_at,
        "\",\"",
        names::WRITE_KEY,
        "\":",
        &key,
        "}",
    ] {
        out.push_str(part);
    }
    out
}

/// Sends the next batch now. `unloading` sends even while another request is in flight, since
/// the page is going away and keepalive requests outlive it.
pub fn flush(unloading: bool) {
    let job = OUTBOX.with(|o| {
        let mut o = o.borrow_mut();
        let outbox = o.as_mut()?;
        if (outbox.sending && !unloading) || outbox.pending.is_empty() {
            return None;
        }
        outbox.sending = true;
        let batch = next_batch(&mut outbox.pending);
        let url = [outbox.settings.endpoint.as_str(), "/v1/batch"].concat();
        Some((url, body(&batch, &outbox.settings.write_key), batch))
    });
    let Some((url, body, batch)) = job else {
        return;
    };
    wasm_bindgen_futures::spawn_local(async move {
        let outcome = send(&url, &body).await;
        settle(batch, outcome);
    });
}

/// What became of one request.
enum Outcome {
    /// The collector answered; the events are settled (stored, duplicate or rejected).
    Answered,
    /// Try again after at least this many milliseconds.
    Retry(f64),
}

async fn send(url: &str, body: &str) -> Outcome {
    let Some(window) = web_sys::window() else {
        return Outcome::Retry(0.0);
    };
    let init = RequestInit::new();
    init.set_method("POST");
    init.set_body(&JsValue::from_str(body));
    // Not in web-sys 0.3.107's RequestInit; a text/plain body also avoids a CORS preflight.
    let _ = Reflect::set(
        &init,
        &"keepalive".into(),
        &JsValue::from_bool(body.len() <= TRACKER_BATCH_BYTES),
    );
    let response = match JsFuture::from(window.fetch_with_str_and_init(url, &init)).await {
        Ok(r) => r.unchecked_into::<Response>(),
        Err(_) => return Outcome::Retry(0.0),
    };
    let status = response.status();
    if status == 429 || status == 408 || status >= 500 {
        let retry_after = response
            .headers()
            .get("retry-after")
            .ok()
            .flatten()
            .and_then(|v| v.trim().parse::<u32>().ok())
            .map_or(0.0, |s| f64::from(s) * 1000.0);
        return Outcome::Retry(retry_after);
    }
    if let Ok(promise) = response.json() {
        if let Ok(answer) = JsFuture::from(promise).await {
            report_rejections(status, &answer);
        }
    }
    Outcome::Answered
}

/// Rejected events are not retried (the same bytes would be rejected again); the reasons go to
/// the console so the shop's developer can fix the call.
fn report_rejections(status: u16, answer: &JsValue) {
    let field = |v: &JsValue, k: &str| Reflect::get(v, &k.into()).unwrap_or(JsValue::UNDEFINED);
    if !(200..300).contains(&status) {
        let status = JsValue::from(status);
        warn(&[
            &"collector refused the batch:".into(),
            &status,
            &field(answer, "error"),
            &field(answer, "message"),
        ]);
        return;
    }
    for verdict in Array::from(&field(answer, "events")).iter() {
        if field(&verdict, "status").as_string().as_deref() == Some("rejected") {
            let parts = ["messageId", "reason", "detail"].map(|k| field(&verdict, k));
            warn(&[&"event rejected:".into(), &parts[0], &parts[1], &parts[2]]);
        }
    }
}

fn settle(batch: Vec<String>, outcome: Outcome) {
    let next = OUTBOX.with(|o| {
        let mut o = o.borrow_mut();
        let outbox = o.as_mut()?;
        outbox.sending = false;
        match outcome {
            Outcome::Answered => {
                outbox.failures = 0;
                Some(if outbox.pending.is_empty() { -1 } else { 0 })
            }
            Outcome::Retry(at_least_ms) => {
                for event in batch.into_iter().rev() {
                    outbox.pending.push_front(event);
                }
                outbox.failures = outbox.failures.saturating_add(1);
                let exp = 1000.0 * f64::from(1u32 << outbox.failures.min(6));
                let jittered = exp.min(MAX_BACKOFF_MS) * (0.5 + js_sys::Math::random());
                Some(jittered.max(at_least_ms) as i32)
            }
        }
    });
    match next {
        Some(0) => flush(false),
        Some(delay) if delay > 0 => schedule(delay),
        _ => {}
    }
}

/// Sends what is pending when the page is hidden or unloaded.
pub fn listen_for_page_hide() {
    let Some(window) = web_sys::window() else {
        return;
    };
    let on_hide = Closure::<dyn Fn()>::new(|| {
        let hidden = web_sys::window()
            .and_then(|w| w.document())
            .is_none_or(|d| d.visibility_state() == web_sys::VisibilityState::Hidden);
        if hidden {
            flush(true);
        }
    });
    let _ = window.add_event_listener_with_callback("pagehide", on_hide.as_ref().unchecked_ref());
    if let Some(doc) = window.document() {
        let _ = doc
            .add_event_listener_with_callback("visibilitychange", on_hide.as_ref().unchecked_ref());
    }
    on_hide.forget();
}

/// Number of events waiting for delivery (for tests and `ready` callbacks).
pub fn pending_count() -> usize {
    OUTBOX.with(|o| o.borrow().as_ref().map_or(0, |o| o.pending.len()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::time::parse_rfc3339_ms;
    use wasm_bindgen_test::wasm_bindgen_test;

    #[wasm_bindgen_test]
    fn batches_close_at_the_count_limit_and_the_byte_limit() {
        let mut pending: VecDeque<String> = (0..45).map(|i| format!("{{\"n\":{i}}}")).collect();
        assert_eq!(next_batch(&mut pending).len(), TRACKER_BATCH_EVENTS);
        assert_eq!(pending.len(), 45 - TRACKER_BATCH_EVENTS);

        let big = "x".repeat(TRACKER_BATCH_BYTES / 3);
        let mut pending: VecDeque<String> = (0..5).map(|_| big.clone()).collect();
        let batch = next_batch(&mut pending);
        assert_eq!(batch.len(), 2, "a third event would pass the byte limit");
        assert!(batch.iter().map(String::len).sum::<usize>() <= TRACKER_BATCH_BYTES);

        let mut lone: VecDeque<String> = ["y".repeat(TRACKER_BATCH_BYTES + 10)].into();
        assert_eq!(next_batch(&mut lone).len(), 1, "an event is never stuck");
    }

    #[wasm_bindgen_test]
    fn body_is_a_segment_batch() {
        let events = [
            "{\"type\":\"page\"}".to_string(),
            "{\"type\":\"track\"}".to_string(),
        ];
        let text = body(&events, "key\"with\\quotes");
        let parsed = JSON::parse(&text).expect("valid JSON");
        let batch = Array::from(&Reflect::get(&parsed, &"batch".into()).unwrap());
        assert_eq!(batch.length(), 2);
        let key = Reflect::get(&parsed, &"writeKey".into())
            .unwrap()
            .as_string();
        assert_eq!(key.as_deref(), Some("key\"with\\quotes"));
        let sent_at = Reflect::get(&parsed, &"sentAt".into())
            .unwrap()
            .as_string()
            .unwrap();
        assert!(parse_rfc3339_ms(&sent_at).is_some());
    }
}
