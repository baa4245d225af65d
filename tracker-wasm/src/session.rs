//! Sessions: a visit ends after 30 minutes without activity. Each session has an ID, and each
//! event its sequence number within it; at the start of a session the campaign (UTM
//! parameters), referrer and landing page are captured and sent with every event of it, as
//! Segment's `context.campaign`. Kept in a first-party cookie (`orb_ses`), written only with
//! consent.

use std::cell::RefCell;

use js_sys::{Object, Reflect};
use wasm_bindgen::{JsCast, JsValue};

use crate::{identity, js};

/// Inactivity that ends a session, in milliseconds.
pub const TIMEOUT_MS: f64 = 30.0 * 60.0 * 1000.0;
/// Cookie holding `id.lastActivityMs.seq`.
const COOKIE: &str = "orb_ses";
/// Campaign parameters captured at the start of a session, and their names in Segment's
/// `context.campaign`.
const UTM: [(&str, &str); 5] = [
    ("utm_source", "source"),
    ("utm_medium", "medium"),
    ("utm_campaign", "name"),
    ("utm_term", "term"),
    ("utm_content", "content"),
];

/// The current session.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    /// Random ID of the session.
    pub id: String,
    /// Time of the last event, Unix ms.
    pub last_ms: f64,
    /// Sequence number of the last event in this session.
    pub seq: u32,
}

impl Session {
    /// Parses the cookie value `id.lastActivityMs.seq`.
    pub fn parse(text: &str) -> Option<Self> {
        let mut parts = text.split('.');
        let id = parts
            .next()
            .filter(|id| protocol::ids::is_uuid(id))?
            .to_string();
        let last_ms = js_sys::parse_float(parts.next()?);
        let seq = parts.next()?.parse().ok()?;
        (last_ms.is_finite() && parts.next().is_none()).then_some(Session { id, last_ms, seq })
    }

    /// The cookie value.
    fn to_cookie(&self) -> String {
        let last = String::from(
            js_sys::Number::from(self.last_ms.floor())
                .to_string_with_radix(10)
                .unwrap_or_default(),
        );
        let seq = String::from(
            js_sys::Number::from(self.seq)
                .to_string_with_radix(10)
                .unwrap_or_default(),
        );
        [self.id.as_str(), ".", &last, ".", &seq].concat()
    }
}

/// The session an event at `now_ms` belongs to: the current one if it is still active, else a
/// new one (`new_id` gives its ID). Returns the session and whether it just started.
pub fn advance(
    current: Option<Session>,
    now_ms: f64,
    new_id: impl FnOnce() -> String,
) -> (Session, bool) {
    match current {
        Some(s) if now_ms - s.last_ms < TIMEOUT_MS && now_ms >= s.last_ms - 60_000.0 => (
            Session {
                id: s.id,
                last_ms: now_ms,
                seq: s.seq + 1,
            },
            false,
        ),
        _ => (
            Session {
                id: new_id(),
                last_ms: now_ms,
                seq: 1,
            },
            true,
        ),
    }
}

thread_local! {
    static STATE: RefCell<Option<Session>> = const { RefCell::new(None) };
    static CAMPAIGN: RefCell<Option<Object>> = const { RefCell::new(None) };
}

fn cookie_session() -> Option<Session> {
    Session::parse(protocol::ids::cookie_value(&identity::cookies()?, COOKIE)?)
}

/// The campaign of the landing page: UTM parameters, referrer and the landing URL.
fn campaign_of_landing() -> Object {
    let campaign = Object::new();
    let href = js::href();
    if let Ok(url) = js::url(&href) {
        for (param, field) in UTM {
            if let Some(value) = js::query_parameter(&url, param).filter(|v| !v.is_empty()) {
                js::set(&campaign, field, &value.into());
            }
        }
    }
    js::set(&campaign, "landingPage", &href.into());
    if let Some(referrer) = js::get_text(&js::document(), "referrer").filter(|r| !r.is_empty()) {
        js::set(&campaign, "referrer", &referrer.into());
    }
    campaign
}

/// localStorage key of the session's campaign: `{"session": id, "campaign": {...}}`.
const CAMPAIGN_KEY: &str = "orb_campaign";

fn save_campaign(session_id: &str, campaign: &Object) {
    let record = Object::new();
    let _ = Reflect::set(&record, &"session".into(), &session_id.into());
    let _ = Reflect::set(&record, &"campaign".into(), campaign);
    if let Ok(text) = js_sys::JSON::stringify(&record) {
        identity::store(CAMPAIGN_KEY, Some(&String::from(text)));
    }
}

fn load_campaign(session_id: &str) -> Option<Object> {
    let text = identity::stored(CAMPAIGN_KEY)?;
    let record = js_sys::JSON::parse(&text).ok()?;
    let same = Reflect::get(&record, &"session".into())
        .ok()?
        .as_string()
        .as_deref()
        == Some(session_id);
    same.then(|| {
        Reflect::get(&record, &"campaign".into())
            .ok()?
            .dyn_into::<Object>()
            .ok()
    })?
}

/// Adds `context.session` (and, for the session's campaign, `context.campaign`) to an event and
/// advances the session. `persist` writes the cookie (only with consent).
pub fn stamp(context: &JsValue, persist: bool) {
    let now = js_sys::Date::now();
    let current = STATE.with(|s| s.borrow().clone()).or_else(cookie_session);
    let (session, started) = advance(current, now, identity::new_uuid);
    if started {
        let campaign = campaign_of_landing();
        if persist {
            save_campaign(&session.id, &campaign);
        }
        CAMPAIGN.with(|c| *c.borrow_mut() = Some(campaign));
    } else if CAMPAIGN.with(|c| c.borrow().is_none()) {
        // A later page of the session: the campaign was captured on the landing page.
        CAMPAIGN.with(|c| *c.borrow_mut() = load_campaign(&session.id));
    }
    let info = Object::new();
    let _ = Reflect::set(&info, &"id".into(), &session.id.as_str().into());
    let _ = Reflect::set(
        &info,
        &protocol::names::SEQUENCE.into(),
        &session.seq.into(),
    );
    let _ = Reflect::set(&info, &"started".into(), &started.into());
    let _ = Reflect::set(context, &"session".into(), &info);
    CAMPAIGN.with(|c| {
        if let Some(campaign) = c.borrow().as_ref() {
            let _ = Reflect::set(context, &"campaign".into(), campaign);
        }
    });
    if persist {
        write_cookie(&session);
    }
    STATE.with(|s| *s.borrow_mut() = Some(session));
}

fn write_cookie(session: &Session) {
    identity::write_cookie(
        &[
            COOKIE,
            "=",
            &session.to_cookie(),
            "; Path=/; Max-Age=1800; SameSite=Lax",
        ]
        .concat(),
    );
}

/// Writes the session kept in memory so far (consent was just granted).
pub fn persist() {
    if let Some(session) = STATE.with(|s| s.borrow().clone()) {
        write_cookie(&session);
        if let Some(campaign) = CAMPAIGN.with(|c| c.borrow().clone()) {
            save_campaign(&session.id, &campaign);
        }
    }
}

/// Forgets the session (logout or withdrawn consent).
pub fn forget() {
    STATE.with(|s| *s.borrow_mut() = None);
    CAMPAIGN.with(|c| *c.borrow_mut() = None);
    identity::store(CAMPAIGN_KEY, None);
    identity::write_cookie(&[COOKIE, "=; Path=/; Max-Age=0"].concat());
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    const ID: &str = "0f8fad5b-d9cb-469f-a165-70867728950e";

    #[wasm_bindgen_test]
    fn thirty_minutes_of_inactivity_end_a_session() {
        let new_id = || "0f8fad5b-d9cb-469f-a165-000000000000".to_string();
        let (first, started) = advance(None, 1_000.0, new_id);
        assert!(started && first.seq == 1);
        let (same, started) = advance(Some(first.clone()), 1_000.0 + TIMEOUT_MS - 1.0, new_id);
        assert!(!started);
        assert_eq!((same.id.as_str(), same.seq), (first.id.as_str(), 2));
        let (next, started) = advance(Some(same.clone()), same.last_ms + TIMEOUT_MS, new_id);
        assert!(started && next.seq == 1);
    }

    #[wasm_bindgen_test]
    fn cookie_round_trip_and_tampering() {
        let s = Session {
            id: ID.into(),
            last_ms: 1_795_452_084_123.0,
            seq: 7,
        };
        assert_eq!(Session::parse(&s.to_cookie()), Some(s));
        for bad in [
            "",
            "x.1.1",
            &format!("{ID}.soon.1"),
            &format!("{ID}.1.-1"),
            &format!("{ID}.1.1.1"),
        ] {
            assert_eq!(Session::parse(bad), None, "{bad}");
        }
    }
}
