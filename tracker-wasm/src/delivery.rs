//! Batching and delivery to `POST /v1/batch`, through a durable outbox shared by the site's tabs.
//!
//! A captured event is written to the outbox (`outbox`: IndexedDB, else localStorage, else
//! memory) on the next microtask, so events captured together are written together. A short
//! delay later this tab asks for the site-wide sending lock (Web Locks API): one tab at a time
//! reads the oldest events of every tab, sends them as one `fetch`, and removes them once the
//! collector answered (2xx, or a definitive 4xx for the batch or for the event); so three open
//! tabs never send the same event twice, and a tab closed mid-send strands nothing (the next
//! lock holder sends those events again, and the collector's `messageId` dedup makes that
//! harmless). Network errors, 5xx and 429 release the lock and retry with exponential backoff
//! and jitter (honouring `Retry-After`); coming back online retries at once.
//!
//! When the page is hidden or unloaded, this tab's own unanswered events are sent at once with
//! `keepalive`, within the browser's 64 KB budget for keepalive bodies in flight, without
//! waiting for the lock; they stay in the outbox until answered, so a batch lost in unload is
//! sent by the next page. Before consent, events wait in memory and nothing is written.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;

use js_sys::{Array, Date, Function, Reflect, JSON};
use protocol::limits::{MAX_EVENT_BYTES, TRACKER_BATCH_BYTES, TRACKER_BATCH_EVENTS};
use protocol::names;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{RequestInit, Response};

use crate::consent::{self, Consent};
use crate::{events, identity, outbox, session, warn, Settings};

/// How long an event may wait for companions before its batch is sent.
const BATCH_DELAY_MS: i32 = 250;
/// Longest wait between retries.
const MAX_BACKOFF_MS: f64 = 60_000.0;
/// Bytes of request bodies a page may have in flight with `keepalive` (Fetch standard: 64 KiB,
/// shared by every keepalive request of the page).
const KEEPALIVE_BUDGET: usize = 64 * 1024;

struct Outbox {
    settings: Settings,
    /// The visitor's anonymous ID; `None` until consent allows the cookie.
    anonymous_id: Option<String>,
    /// Consent to tracking (see `consent`).
    consent: Consent,
    /// Events captured before consent was decided, waiting in memory (never in storage).
    held: Vec<js_sys::Object>,
    /// The customer ID from `identify`, sent with every later event until `reset`.
    user_id: Option<String>,
    /// Serialised events captured in this tab and not yet written to the outbox.
    unsaved: Vec<String>,
    /// A write to the outbox is under way.
    saving: bool,
    /// This tab holds or waits for the sending lock.
    sending: bool,
    /// A flush was asked for while sending: look again once done.
    again: bool,
    /// A delayed flush is scheduled.
    timer: bool,
    /// Consecutive failed attempts, for backoff.
    failures: u32,
    /// Bytes of keepalive requests in flight.
    keepalive_bytes: usize,
}

thread_local! {
    static OUTBOX: RefCell<Option<Outbox>> = const { RefCell::new(None) };
}

fn with<T>(f: impl FnOnce(&mut Outbox) -> T) -> Option<T> {
    OUTBOX.with(|o| o.borrow_mut().as_mut().map(f))
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
            unsaved: Vec::new(),
            saving: false,
            sending: false,
            again: false,
            timer: false,
            failures: 0,
            keepalive_bytes: 0,
        })
    });
}

/// Sets the customer ID sent with later events (`identify`), or clears it and starts a new
/// anonymous visitor (`reset`, on logout).
pub fn set_user(user_id: Option<String>) {
    with(|outbox| {
        if outbox.consent == Consent::Granted {
            identity::remember_user_id(user_id.as_deref());
            if user_id.is_none() {
                outbox.anonymous_id = Some(identity::renew_anonymous_id());
                session::forget();
            }
        }
        outbox.user_id = user_id;
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
    let release = with(|outbox| {
        outbox.consent = decision;
        if decision == Consent::Granted {
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
                    outbox.unsaved.push(json);
                }
            }
            return true;
        }
        outbox.held.clear();
        outbox.unsaved.clear();
        outbox.anonymous_id = None;
        outbox.user_id = None;
        if decision == Consent::Denied {
            identity::forget_everything();
            session::forget();
            outbox::forget();
        }
        false
    });
    if release == Some(true) {
        save_soon();
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
    let granted = with(|outbox| {
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
            Ok(json) => outbox.unsaved.push(json),
            Err(error) => warn(&[&"event cannot be serialised:".into(), &error]),
        }
        true
    });
    if granted == Some(true) {
        save_soon();
    }
}

/// Writes the unsaved events to the outbox on the next microtask (so events captured together
/// are written in one transaction), then schedules a flush.
fn save_soon() {
    if with(|o| std::mem::replace(&mut o.saving, true)) != Some(false) {
        return;
    }
    wasm_bindgen_futures::spawn_local(async {
        loop {
            let texts: Array = match with(|o| std::mem::take(&mut o.unsaved)) {
                Some(list) if !list.is_empty() => {
                    list.iter().map(|e| JsValue::from_str(e)).collect()
                }
                _ => break,
            };
            let _ = JsFuture::from(outbox::save(&texts)).await;
        }
        with(|o| o.saving = false);
        schedule(BATCH_DELAY_MS);
    });
}

fn schedule(delay_ms: i32) {
    if with(|o| std::mem::replace(&mut o.timer, true)) != Some(false) {
        return;
    }
    let callback = Closure::once_into_js(|| {
        with(|o| o.timer = false);
        flush(false);
    });
    if let Some(window) = web_sys::window() {
        let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(
            callback.unchecked_ref(),
            delay_ms,
        );
    }
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

/// Where batches go and the write key that goes with them.
fn target(outbox: &Outbox) -> (String, String) {
    (
        [outbox.settings.endpoint.as_str(), "/v1/batch"].concat(),
        outbox.settings.write_key.clone(),
    )
}

/// Sends what the outbox holds. `unloading` (the page is being hidden or closed) sends this
/// tab's unanswered events at once with `keepalive`, without waiting for the lock.
pub fn flush(unloading: bool) {
    if unloading {
        send_mine();
        return;
    }
    let start = with(|o| {
        if o.consent != Consent::Granted {
            return None;
        }
        if o.sending {
            o.again = true;
            return None;
        }
        o.sending = true;
        o.again = false;
        Some(target(o))
    })
    .flatten();
    let Some((url, key)) = start else {
        return;
    };
    wasm_bindgen_futures::spawn_local(async move {
        let release = JsFuture::from(outbox::lock()).await.ok();
        let outcome = drain(&url, &key).await;
        if let Some(release) = release.and_then(|r| r.dyn_into::<Function>().ok()) {
            let _ = release.call0(&JsValue::NULL);
        }
        settle(outcome);
    });
}

/// With the lock held: sends the outbox's oldest events batch by batch until it is empty, or
/// until a batch must be retried.
async fn drain(url: &str, key: &str) -> Outcome {
    loop {
        if consent() != Consent::Granted {
            return Outcome::Answered;
        }
        let batch = outbox::read(TRACKER_BATCH_EVENTS as u32, TRACKER_BATCH_BYTES as u32);
        let Ok(rows) = JsFuture::from(batch).await else {
            return Outcome::Retry(0.0);
        };
        let (keys, texts) = rows_of(&rows.into());
        if texts.is_empty() {
            return Outcome::Answered;
        }
        match send(url.into(), body(&texts, key), false).await {
            Outcome::Answered => {
                let _ = JsFuture::from(outbox::remove(&keys)).await;
            }
            retry => return retry,
        }
    }
}

/// `[keys, jsonTexts]` from the outbox, as keys and texts.
fn rows_of(rows: &Array) -> (Array, Vec<String>) {
    let texts = Array::from(&rows.get(1));
    (
        Array::from(&rows.get(0)),
        texts.iter().filter_map(|t| t.as_string()).collect(),
    )
}

/// The page is going away: sends this tab's unanswered events (saved or not) at once, as one
/// keepalive request within the page's budget. They stay in the outbox until answered.
fn send_mine() {
    let job = with(|o| (o.consent == Consent::Granted).then(|| (target(o), o.unsaved.clone())));
    let Some(((url, key), unsaved)) = job.flatten() else {
        return;
    };
    let (keys, mut texts) = rows_of(&outbox::mine(TRACKER_BATCH_BYTES as u32));
    texts.extend(unsaved);
    if texts.is_empty() {
        return;
    }
    let sent = send(url, body(&texts, &key), true);
    wasm_bindgen_futures::spawn_local(async move {
        if let Outcome::Answered = sent.await {
            let _ = JsFuture::from(outbox::remove(&keys)).await;
        }
    });
}

/// What became of one request.
enum Outcome {
    /// The collector answered; the events are settled (stored, duplicate or rejected).
    Answered,
    /// Try again after at least this many milliseconds.
    Retry(f64),
}

/// Posts one batch. `keepalive` requests may outlive the page; a request only gets it while the
/// page's keepalive budget has room, and `unloading` sends nothing without it (it would die
/// with the page). Boxed: one copy of this code serves both callers.
fn send(url: String, body: String, unloading: bool) -> Pin<Box<dyn Future<Output = Outcome>>> {
    Box::pin(send_now(url, body, unloading))
}

async fn send_now(url: String, body: String, unloading: bool) -> Outcome {
    let Some(window) = web_sys::window() else {
        return Outcome::Retry(0.0);
    };
    let keepalive = with(|o| {
        let fits = o.keepalive_bytes + body.len() <= KEEPALIVE_BUDGET;
        if fits {
            o.keepalive_bytes += body.len();
        }
        fits
    }) == Some(true);
    if unloading && !keepalive {
        return Outcome::Retry(0.0);
    }
    let init = RequestInit::new();
    init.set_method("POST");
    init.set_body(&JsValue::from_str(&body));
    // Not in web-sys 0.3.107's RequestInit; a text/plain body also avoids a CORS preflight.
    let _ = Reflect::set(&init, &"keepalive".into(), &JsValue::from_bool(keepalive));
    let response = JsFuture::from(window.fetch_with_str_and_init(&url, &init)).await;
    if keepalive {
        with(|o| o.keepalive_bytes -= body.len());
    }
    let Ok(response) = response.map(|r| r.unchecked_into::<Response>()) else {
        return Outcome::Retry(0.0);
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

fn settle(outcome: Outcome) {
    let next = with(|o| {
        o.sending = false;
        match outcome {
            Outcome::Answered => {
                o.failures = 0;
                if o.again {
                    0
                } else {
                    -1
                }
            }
            Outcome::Retry(at_least_ms) => {
                o.failures = o.failures.saturating_add(1);
                let exp = 1000.0 * f64::from(1u32 << o.failures.min(6));
                let jittered = exp.min(MAX_BACKOFF_MS) * (0.5 + js_sys::Math::random());
                jittered.max(at_least_ms) as i32
            }
        }
    });
    match next {
        Some(0) => flush(false),
        Some(delay) if delay > 0 => schedule(delay),
        _ => {}
    }
}

/// Sends this tab's events when the page is hidden or unloaded, and retries at once when the
/// browser comes back online.
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
    let on_online = Closure::<dyn Fn()>::new(|| flush(false));
    let _ = window.add_event_listener_with_callback("online", on_online.as_ref().unchecked_ref());
    on_online.forget();
}

/// Number of events this tab captured that it has not seen answered (for tests and `ready`
/// callbacks).
pub fn pending_count() -> usize {
    let saved = Array::from(&outbox::mine(u32::MAX).get(1)).length() as usize;
    with(|o| o.held.len() + o.unsaved.len()).unwrap_or(0) + saved
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::time::parse_rfc3339_ms;
    use wasm_bindgen_test::wasm_bindgen_test;

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
