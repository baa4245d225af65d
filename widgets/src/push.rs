//! Web push in the browser: subscribing after the visitor accepted the soft prompt, and the
//! soft prompt's back-off after dismissals (3, then 7, then 30 days).
//!
//! The soft prompt itself is a widget of the display-rule engine (kind `push`); on a click on
//! its "allow" button it calls [`start`], and on "not now" it stores
//! [`Backoff::dismissed`] and asks [`Backoff::may_prompt`] before showing again.
//!
//! The browser side of subscribing (service worker, permission, Push API, the POST) is one
//! JavaScript function in `js/browser.js`: every one of those APIs is a promise, and awaiting
//! promises from Rust costs the futures runtime and closure shims in the wasm and the glue. It
//! hands its outcome back to [`crate::answer`], which runs [`settled`]: what the outcome means
//! (events, console warning, the soft prompt's memory) is decided here.

use js_sys::{Array, Function, Object, Promise, Reflect, Uint8Array};
use protocol::push as wire;
use wasm_bindgen::prelude::*;

/// Days the soft prompt waits after the first, second, and every later dismissal
/// (OneSignal's defaults, see the handbook's peers-reco-widgets.md B1).
pub const BACKOFF_DAYS: [u32; 3] = [3, 7, 30];
const DAY_MS: f64 = 24.0 * 3600.0 * 1000.0;

/// The soft prompt's dismissal history for one visitor (the widget keeps it in localStorage).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Backoff {
    /// How often the visitor dismissed the prompt.
    pub dismissals: u32,
    /// When they last did (ms since the epoch); meaningless while `dismissals` is 0.
    pub last_dismissed_ms: f64,
}

impl Backoff {
    /// Days to wait after the latest dismissal: 0, then 3, 7, 30, 30, ...
    pub fn wait_days(&self) -> u32 {
        match self.dismissals {
            0 => 0,
            n => BACKOFF_DAYS[(n as usize - 1).min(BACKOFF_DAYS.len() - 1)],
        }
    }

    /// The history after a dismissal at `now_ms`.
    pub fn dismissed(self, now_ms: f64) -> Self {
        Self {
            dismissals: self.dismissals.saturating_add(1),
            last_dismissed_ms: now_ms,
        }
    }

    /// The earliest time (ms) the prompt may show again.
    pub fn next_prompt_ms(&self) -> f64 {
        if self.dismissals == 0 {
            return 0.0;
        }
        self.last_dismissed_ms + f64::from(self.wait_days()) * DAY_MS
    }

    /// Whether the soft prompt may show at `now_ms`.
    pub fn may_prompt(&self, now_ms: f64) -> bool {
        now_ms >= self.next_prompt_ms()
    }
}

/// How a subscription attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The browser subscribed and the collector stored the subscription.
    Subscribed,
    /// The visitor denied (or dismissed) the browser's permission prompt.
    Denied,
    /// The browser has no service workers, Push API or notifications (or the page is not a
    /// secure context).
    Unsupported,
    /// Something failed on the way; the reason says where (`service_worker: ...`,
    /// `push_service: ...`, `collector: ...`).
    Failed(String),
}

impl Outcome {
    /// The outcome's name, as the JavaScript API returns it.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Subscribed => "subscribed",
            Self::Denied => "denied",
            Self::Unsupported => "unsupported",
            Self::Failed(_) => "failed",
        }
    }

    /// The reason of a failure (empty otherwise).
    pub fn reason(&self) -> &str {
        match self {
            Self::Failed(reason) => reason,
            _ => "",
        }
    }
}

/// How long the push service may take to answer a subscription (headless browsers and some
/// networks never answer at all), and the worker to become active.
const PUSH_SERVICE_TIMEOUT_MS: u32 = 10_000;

#[wasm_bindgen(module = "/js/browser.js")]
extern "C" {
    /// Registers `script` (scope `/`), asks for permission, subscribes with `key` and POSTs
    /// `body` plus the subscription to `url`; each wait bounded by `ms`. Hands `[outcome,
    /// reason]` and `ctx` to [`crate::answer`] (`push`) through the glue at `glue`, and
    /// resolves to what that answers; never rejects.
    fn subscribe(
        script: &str,
        key: &Uint8Array,
        url: &str,
        body: &Object,
        ms: u32,
        glue: &JsValue,
        ctx: &Array,
    ) -> Promise;
}

/// Starts subscribing the visitor to web push; call it from the click on the soft prompt
/// (browsers only show the permission prompt from a user gesture). `endpoint` is the
/// collector's origin, `vapid_public_key` the base64url key from
/// `GET /v1/push/vapid-public-key` (or site-config), `orbita` the tracker's global function
/// (for the visitor's anonymous ID and the events `Push Subscribed` / `Push Subscribe Failed`),
/// `widget` the soft prompt's `[ID, variant name]` if it asked (its memory learns the outcome).
/// The promise resolves to `{outcome, reason}` once [`settled`] has run.
///
/// The service worker is registered from the page's own origin at `/orbita-sw.js` (the
/// collector serves it; a shop on another origin proxies that path).
pub fn start(
    endpoint: &str,
    write_key: &str,
    vapid_public_key: &str,
    orbita: &JsValue,
    widget: &JsValue,
) -> Promise {
    let ctx = Array::of2(orbita, widget);
    let Some(key) = wire::base64url_decode(vapid_public_key).filter(|k| k.len() == 65) else {
        let reason = "vapid_public_key: not a base64url P-256 public key";
        let result = Array::of2(&"failed".into(), &reason.into());
        return Promise::resolve(&settled(&result, &ctx));
    };
    let endpoint = endpoint.trim_end_matches('/');
    let script = [
        wire::SERVICE_WORKER_PATH,
        "?k=",
        &String::from(js_sys::encode_uri_component(write_key)),
        "&e=",
        &String::from(js_sys::encode_uri_component(endpoint)),
    ]
    .concat();
    let anonymous_id = orbita
        .dyn_ref::<Function>()
        .map(|o| crate::get(o, "anonymousId"))
        .and_then(|f| f.dyn_into::<Function>().ok())
        .and_then(|f| f.call0(&JsValue::NULL).ok())
        .and_then(|id| id.as_string())
        .unwrap_or_default();
    let body = Object::new();
    let _ = Reflect::set(&body, &"anonymousId".into(), &anonymous_id.into());
    let _ = Reflect::set(&body, &"writeKey".into(), &write_key.into());
    let url = [endpoint, wire::SUBSCRIPTIONS_PATH].concat();
    subscribe(
        &script,
        &Uint8Array::from(key.as_slice()),
        &url,
        &body,
        PUSH_SERVICE_TIMEOUT_MS,
        &crate::glue(),
        &ctx,
    )
}

/// Reads the flow's `[outcome, reason]`.
pub fn outcome(result: &JsValue) -> Outcome {
    let field = |i: u32| {
        Reflect::get_u32(result, i)
            .ok()
            .and_then(|v| v.as_string())
            .unwrap_or_default()
    };
    match field(0).as_str() {
        "subscribed" => Outcome::Subscribed,
        "denied" => Outcome::Denied,
        "unsupported" => Outcome::Unsupported,
        _ => Outcome::Failed(field(1)),
    }
}

/// A subscription attempt ended (`result`: `[outcome, reason]`; `ctx`: `[orbita, widget]` as
/// [`start`] gave them): reports `Push Subscribed` or `Push Subscribe Failed` (with the
/// reason) through the tracker, warns in the console unless subscribed, tells the soft
/// prompt's memory (subscribed: never again; anything else counts as a "not now"), and
/// answers `{outcome, reason}`.
pub(crate) fn settled(result: &JsValue, ctx: &JsValue) -> JsValue {
    let outcome = outcome(result);
    let ctx = Array::from(ctx);
    if let Ok(orbita) = ctx.get(0).dyn_into::<Function>() {
        let properties = Object::new();
        let event = match &outcome {
            Outcome::Subscribed => wire::PUSH_SUBSCRIBED,
            other => {
                let reason = match other {
                    Outcome::Failed(reason) => reason.as_str(),
                    other => other.name(),
                };
                let _ = Reflect::set(&properties, &wire::REASON.into(), &reason.into());
                wire::PUSH_SUBSCRIBE_FAILED
            }
        };
        let _ = orbita.call3(&JsValue::NULL, &"track".into(), &event.into(), &properties);
    }
    if outcome != Outcome::Subscribed {
        web_sys::console::warn_3(
            &"orbita: web push not subscribed:".into(),
            &outcome.name().into(),
            &outcome.reason().into(),
        );
    }
    if let Some(widget) = ctx.get(1).dyn_ref::<Array>() {
        let id = widget.get(0).as_string().unwrap_or_default();
        let what = if outcome == Outcome::Subscribed {
            "submit"
        } else {
            "close"
        };
        crate::forms::done(&id, what, &widget.get(1));
    }
    let answer = Object::new();
    let _ = Reflect::set(&answer, &"outcome".into(), &outcome.name().into());
    let _ = Reflect::set(&answer, &"reason".into(), &outcome.reason().into());
    answer.into()
}

/// JavaScript entry point: `subscribePush({endpoint, writeKey}, vapidPublicKey, orbita)`
/// resolves to `{outcome: "subscribed" | "denied" | "unsupported" | "failed", reason}`.
#[wasm_bindgen(js_name = subscribePush)]
pub fn subscribe_push(config: JsValue, vapid_public_key: String, orbita: JsValue) -> Promise {
    let text = |key: &str| crate::get(&config, key).as_string().unwrap_or_default();
    start(
        &text("endpoint"),
        &text("writeKey"),
        &vapid_public_key,
        &orbita,
        &JsValue::UNDEFINED,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    const T0: f64 = 1_700_000_000_000.0;

    #[wasm_bindgen_test]
    fn never_dismissed_may_prompt_at_once() {
        let b = Backoff::default();
        assert_eq!(b.wait_days(), 0);
        assert!(b.may_prompt(0.0));
    }

    #[wasm_bindgen_test]
    fn waits_3_then_7_then_30_days() {
        let first = Backoff::default().dismissed(T0);
        assert_eq!(first.wait_days(), 3);
        assert!(!first.may_prompt(T0 + 3.0 * DAY_MS - 1.0));
        assert!(first.may_prompt(T0 + 3.0 * DAY_MS));

        let t1 = T0 + 4.0 * DAY_MS;
        let second = first.dismissed(t1);
        assert_eq!(second.wait_days(), 7);
        assert!(!second.may_prompt(t1 + 6.9 * DAY_MS));
        assert!(second.may_prompt(t1 + 7.0 * DAY_MS));

        let t2 = t1 + 8.0 * DAY_MS;
        let third = second.dismissed(t2);
        assert_eq!(third.wait_days(), 30);
        assert!(!third.may_prompt(t2 + 29.0 * DAY_MS));
        assert!(third.may_prompt(t2 + 30.0 * DAY_MS));
        // Every later dismissal waits 30 days too.
        let tenth = (0..7).fold(third, |b, i| b.dismissed(t2 + f64::from(i)));
        assert_eq!(tenth.dismissals, 10);
        assert_eq!(tenth.wait_days(), 30);
    }

    #[wasm_bindgen_test]
    fn outcomes_have_names_and_reasons() {
        assert_eq!(Outcome::Subscribed.name(), "subscribed");
        let failed = Outcome::Failed("push_service: no".into());
        assert_eq!(
            (failed.name(), failed.reason()),
            ("failed", "push_service: no")
        );
        assert_eq!(Outcome::Denied.reason(), "");
    }
}
