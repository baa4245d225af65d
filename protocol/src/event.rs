//! One validated event, ready to store.

use alloc::format;
use alloc::string::{String, ToString};
use serde_json::{Map, Value};

use crate::ecommerce;
use crate::limits::{MAX_EVENT_BYTES, MAX_EVENT_NAME_BYTES, MAX_ID_BYTES};
use crate::names::{self, types};
use crate::time::parse_rfc3339_ms;
use crate::verdict::{RejectReason, Rejection};

/// How long after it happened an event counts as late: 24 hours.
pub const LATE_AFTER_MS: i64 = 24 * 3600 * 1000;

/// An event that passed validation, with the columns the collector indexes and the raw text.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidEvent {
    /// `messageId` as sent, or derived from the event's bytes when the client sent none.
    pub message_id: String,
    /// One of [`types::ALL`].
    pub kind: &'static str,
    /// `event` of a `track`, `name` of a `page`/`screen`, otherwise `None`.
    pub name: Option<String>,
    /// The visitor's anonymous ID.
    pub anonymous_id: Option<String>,
    /// The shop's customer ID.
    pub user_id: Option<String>,
    /// Client time of the event, Unix ms.
    pub timestamp_ms: Option<i64>,
    /// Client time the batch was sent, Unix ms (the event's own `sentAt`, else the batch's).
    pub sent_at_ms: Option<i64>,
    /// `properties` (or `{}`), as JSON text.
    pub properties: String,
    /// `traits` (or `{}`), as JSON text.
    pub traits: String,
    /// `context` (or `{}`), as JSON text.
    pub context: String,
    /// The event exactly as received.
    pub raw: String,
}

impl ValidEvent {
    /// Whether the event arrives more than [`LATE_AFTER_MS`] after it happened (an offline queue
    /// replayed, or a batch resent days later): stored, and marked so reports can tell.
    pub fn is_late(&self, received_ms: i64) -> bool {
        received_ms - self.corrected_time_ms(received_ms) > LATE_AFTER_MS
            || self.sent_at_ms.is_some_and(|sent| {
                self.timestamp_ms
                    .is_some_and(|ts| sent - ts > LATE_AFTER_MS)
            })
    }

    /// Event time corrected for the client's clock skew: `received − (sentAt − timestamp)`.
    /// Falls back to the receive time when the client sent no usable times.
    pub fn corrected_time_ms(&self, received_ms: i64) -> i64 {
        match (self.timestamp_ms, self.sent_at_ms) {
            (Some(ts), Some(sent)) => received_ms - (sent - ts).max(0),
            _ => received_ms,
        }
    }
}

fn reject(reason: RejectReason, detail: impl Into<String>) -> Rejection {
    Rejection {
        reason,
        detail: detail.into(),
    }
}

/// Who sent an event, which decides how it may identify the person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sender {
    /// Sent with the public write key (browsers, Segment clients): `userId` or `anonymousId`.
    Browser,
    /// Sent with the secret server key (the shop's backend, point-of-sale, call centre): may also
    /// identify the contact by email or phone alone.
    Server,
}

/// Whether the event names a contact by email or phone, in `traits` or `context.traits`.
fn has_contact_key(obj: &Map<String, Value>) -> bool {
    let in_traits = |traits: Option<&Value>| {
        traits.is_some_and(|t| {
            ["email", "phone"].iter().any(|k| {
                t.get(k)
                    .and_then(Value::as_str)
                    .is_some_and(|v| !v.trim().is_empty())
            })
        })
    };
    in_traits(obj.get(names::TRAITS))
        || in_traits(obj.get(names::CONTEXT).and_then(|c| c.get(names::TRAITS)))
}

/// The `messageId` of a raw event, if it has a string one (used to label rejections).
pub fn message_id_of(raw: &str) -> Option<String> {
    let value: Value = serde_json::from_str(raw).ok()?;
    value
        .get(names::MESSAGE_ID)?
        .as_str()
        .map(ToString::to_string)
}

/// Validates one event of a batch. `batch_sent_at_ms` is the batch's `sentAt`, used when the
/// event has none of its own.
pub fn validate_event(
    raw: &str,
    batch_sent_at_ms: Option<i64>,
    sender: Sender,
) -> Result<ValidEvent, Rejection> {
    if raw.len() > MAX_EVENT_BYTES {
        return Err(reject(
            RejectReason::EventTooLarge,
            format!(
                "event is {} bytes; the limit is {MAX_EVENT_BYTES}",
                raw.len()
            ),
        ));
    }
    let value: Value = serde_json::from_str(raw).map_err(|e| {
        let reason = if e.to_string().contains("recursion limit") {
            RejectReason::TooDeep
        } else {
            RejectReason::NotAnObject
        };
        reject(reason, format!("event could not be read: {e}"))
    })?;
    let Value::Object(obj) = value else {
        return Err(reject(
            RejectReason::NotAnObject,
            "each batch entry must be a JSON object",
        ));
    };

    let kind = match obj.get(names::TYPE) {
        None | Some(Value::Null) => {
            return Err(reject(RejectReason::MissingType, "`type` is required"))
        }
        Some(Value::String(t)) => types::ALL.iter().copied().find(|k| k == t).ok_or_else(|| {
            reject(
                RejectReason::UnknownType,
                format!("`type` must be one of {:?}, not {t:?}", types::ALL),
            )
        })?,
        Some(_) => {
            return Err(reject(
                RejectReason::InvalidField,
                "`type` must be a string",
            ))
        }
    };

    let message_id = match optional_id(&obj, names::MESSAGE_ID)? {
        Some(id) => id,
        None => derived_message_id(raw),
    };
    let anonymous_id = optional_id(&obj, names::ANONYMOUS_ID)?;
    let user_id = optional_id(&obj, names::USER_ID)?;
    if anonymous_id.is_none()
        && user_id.is_none()
        && !(sender == Sender::Server && has_contact_key(&obj))
    {
        let message = match sender {
            Sender::Browser => "either `userId` or `anonymousId` must be a non-empty string",
            Sender::Server => "one of `userId`, `anonymousId`, `traits.email`, `traits.phone` (or in `context.traits`) is required",
        };
        return Err(reject(RejectReason::MissingIdentity, message));
    }

    let name = match kind {
        types::TRACK => {
            let name = optional_string(&obj, names::EVENT, MAX_EVENT_NAME_BYTES)?;
            Some(name.ok_or_else(|| {
                reject(
                    RejectReason::MissingEventName,
                    "a `track` event needs an `event` name",
                )
            })?)
        }
        types::PAGE | types::SCREEN => optional_string(&obj, "name", MAX_EVENT_NAME_BYTES)?,
        _ => None,
    };

    let timestamp_ms = optional_time(&obj, names::TIMESTAMP)?;
    let sent_at_ms = optional_time(&obj, names::SENT_AT)?.or(batch_sent_at_ms);
    let properties = optional_object(&obj, names::PROPERTIES)?;
    let traits = optional_object(&obj, names::TRAITS)?;
    let context = optional_object(&obj, names::CONTEXT)?;

    if let Some(name) = &name {
        if kind == types::TRACK {
            check_ecommerce(name, properties)?;
        }
    }
    check_consent(context)?;

    Ok(ValidEvent {
        message_id,
        kind,
        name,
        anonymous_id,
        user_id,
        timestamp_ms,
        sent_at_ms,
        properties: json_text(properties),
        traits: json_text(traits),
        context: json_text(context),
        raw: raw.to_string(),
    })
}

/// Events captured without consent to tracking are refused whole: stored nowhere, linked to no
/// profile. Events that say nothing about consent are the site's responsibility (server events,
/// sites without a consent banner).
fn check_consent(context: Option<&Map<String, Value>>) -> Result<(), Rejection> {
    let state = context
        .and_then(|c| c.get(names::CONSENT))
        .and_then(|c| c.get(names::CONSENT_TRACKING))
        .and_then(Value::as_str);
    match state {
        Some(s @ ("denied" | "pending")) => Err(reject(
            RejectReason::ConsentDenied,
            format!("captured with tracking consent {s:?}: not stored"),
        )),
        _ => Ok(()),
    }
}

/// Required properties of the ecommerce events the engine learns from.
fn check_ecommerce(name: &str, properties: Option<&Map<String, Value>>) -> Result<(), Rejection> {
    let has_id = |p: &Map<String, Value>| match p.get(ecommerce::PRODUCT_ID) {
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Number(_)) => true,
        _ => false,
    };
    let products_ok = |p: &Map<String, Value>| match p.get(ecommerce::PRODUCTS) {
        Some(Value::Array(lines)) => lines.iter().all(|l| l.as_object().is_some_and(has_id)),
        _ => false,
    };
    let empty = Map::new();
    let props = properties.unwrap_or(&empty);
    match name {
        ecommerce::PRODUCT_VIEWED
        | ecommerce::PRODUCT_ADDED
        | ecommerce::PRODUCT_REMOVED
        | ecommerce::PRODUCT_ADDED_TO_WISHLIST
        | ecommerce::PRODUCT_REMOVED_FROM_WISHLIST
            if !has_id(props) =>
        {
            Err(reject(
                RejectReason::MissingProductId,
                format!("`{name}` needs `properties.product_id` (string or number)"),
            ))
        }
        ecommerce::CART_UPDATED | ecommerce::ORDER_COMPLETED if !products_ok(props) => Err(reject(
            RejectReason::MissingProducts,
            format!("`{name}` needs `properties.products`: a list of objects with `product_id`"),
        )),
        ecommerce::ORDER_COMPLETED
            if !matches!(
                props.get(ecommerce::ORDER_ID),
                Some(Value::String(_) | Value::Number(_))
            ) =>
        {
            Err(reject(
                RejectReason::MissingOrderId,
                "`Order Completed` needs `properties.order_id`",
            ))
        }
        _ => Ok(()),
    }
}

fn optional_string(
    obj: &Map<String, Value>,
    key: &str,
    max: usize,
) -> Result<Option<String>, Rejection> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) if s.len() > max => Err(reject(
            RejectReason::TooLong,
            format!("`{key}` is {} bytes; the limit is {max}", s.len()),
        )),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(reject(
            RejectReason::InvalidField,
            format!("`{key}` must be a string"),
        )),
    }
}

/// IDs may be strings or (as some backends send) integers; both are stored as text.
fn optional_id(obj: &Map<String, Value>, key: &str) -> Result<Option<String>, Rejection> {
    match obj.get(key) {
        Some(Value::Number(n)) if n.is_i64() || n.is_u64() => Ok(Some(n.to_string())),
        _ => optional_string(obj, key, MAX_ID_BYTES),
    }
}

fn optional_time(obj: &Map<String, Value>, key: &str) -> Result<Option<i64>, Rejection> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => parse_rfc3339_ms(s).map(Some).ok_or_else(|| {
            reject(
                RejectReason::InvalidTimestamp,
                format!("`{key}` must be an RFC 3339 date-time like 2026-11-23T16:41:24.123Z"),
            )
        }),
        Some(_) => Err(reject(
            RejectReason::InvalidTimestamp,
            format!("`{key}` must be a string"),
        )),
    }
}

fn optional_object<'a>(
    obj: &'a Map<String, Value>,
    key: &str,
) -> Result<Option<&'a Map<String, Value>>, Rejection> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(o)) => Ok(Some(o)),
        Some(_) => Err(reject(
            RejectReason::InvalidField,
            format!("`{key}` must be an object"),
        )),
    }
}

fn json_text(obj: Option<&Map<String, Value>>) -> String {
    obj.map_or_else(|| "{}".into(), |o| Value::Object(o.clone()).to_string())
}

/// A stable ID for an event sent without `messageId`, so that a resend of the same bytes is
/// still recognised as a duplicate. Two 64-bit FNV-1a hashes with different offsets.
fn derived_message_id(raw: &str) -> String {
    let fnv = |mut h: u64| {
        for &b in raw.as_bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        h
    };
    format!(
        "derived-{:016x}{:016x}",
        fnv(0xcbf2_9ce4_8422_2325),
        fnv(0x8422_2325_cbf2_9ce4)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(raw: &str) -> Result<ValidEvent, RejectReason> {
        validate_event(raw, None, Sender::Browser).map_err(|r| r.reason)
    }

    #[test]
    fn accepts_segment_track_and_page() {
        let e = check(
            r#"{"type":"track","event":"Product Viewed","messageId":"m1","anonymousId":"a1",
               "properties":{"product_id":"sku-1","price":9.5},"timestamp":"2026-11-23T10:00:00Z",
               "sentAt":"2026-11-23T10:00:02Z","extra":{"kept":true}}"#,
        )
        .unwrap();
        assert_eq!(e.kind, "track");
        assert_eq!(e.name.as_deref(), Some("Product Viewed"));
        assert_eq!(e.message_id, "m1");
        assert!(e.properties.contains("sku-1"));
        assert!(
            e.raw.contains("kept"),
            "unknown fields are kept in the raw text"
        );
        // Client clock 2 s between capture and send: corrected time is 2 s before receipt.
        assert_eq!(e.corrected_time_ms(1_000_000), 998_000);

        let p = check(r#"{"type":"page","userId":42,"name":"Home"}"#).unwrap();
        assert_eq!(p.user_id.as_deref(), Some("42"));
        assert!(p.message_id.starts_with("derived-"));
    }

    #[test]
    fn server_events_may_identify_by_email_or_phone() {
        let by_email = r#"{"type":"track","event":"Order Completed","context":{"traits":{"email":"a@x.io"}},"properties":{"order_id":"1","products":[]}}"#;
        assert_eq!(
            check(by_email).map(|e| e.kind),
            Err(RejectReason::MissingIdentity),
            "not with the public key"
        );
        assert!(validate_event(by_email, None, Sender::Server).is_ok());
        let by_phone = r#"{"type":"identify","traits":{"phone":"+380441234567"}}"#;
        assert!(validate_event(by_phone, None, Sender::Server).is_ok());
        let nobody = r#"{"type":"identify","traits":{"email":"  "}}"#;
        assert!(validate_event(nobody, None, Sender::Server).is_err());
    }

    #[test]
    fn late_events_are_marked() {
        let at = |ts: &str, sent: &str| {
            check(&format!(
                r#"{{"type":"page","anonymousId":"a","timestamp":"{ts}","sentAt":"{sent}"}}"#
            ))
            .unwrap()
        };
        let received = parse_rfc3339_ms("2026-11-23T12:00:00Z").unwrap();
        assert!(!at("2026-11-23T11:59:00Z", "2026-11-23T11:59:01Z").is_late(received));
        // Captured two days ago, sent now (an offline queue): late.
        assert!(at("2026-11-21T12:00:00Z", "2026-11-23T11:59:59Z").is_late(received));
        // A client clock two days behind, but sent right after capture: not late.
        assert!(!at("2026-11-21T12:00:00Z", "2026-11-21T12:00:01Z").is_late(received));
        let granted = check(
            r#"{"type":"page","anonymousId":"a","context":{"consent":{"tracking":"granted"}}}"#,
        );
        assert!(granted.is_ok());
    }

    #[test]
    fn derived_ids_are_stable_per_bytes() {
        let a = check(r#"{"type":"page","anonymousId":"x"}"#).unwrap();
        let b = check(r#"{"type":"page","anonymousId":"x"}"#).unwrap();
        let c = check(r#"{"type":"page","anonymousId":"y"}"#).unwrap();
        assert_eq!(a.message_id, b.message_id);
        assert_ne!(a.message_id, c.message_id);
    }

    #[test]
    fn rejects_with_typed_reasons() {
        use RejectReason::*;
        let big = format!(
            r#"{{"type":"track","event":"x","anonymousId":"a","properties":{{"s":"{}"}}}}"#,
            "a".repeat(MAX_EVENT_BYTES)
        );
        let deep = format!(
            r#"{{"type":"page","anonymousId":"a","properties":{{"x":{}{}}}}}"#,
            "[".repeat(300),
            "]".repeat(300)
        );
        let long_id = format!(r#"{{"type":"page","anonymousId":"{}"}}"#, "a".repeat(201));
        let cases: &[(&str, RejectReason)] = &[
            ("[1,2]", NotAnObject),
            ("\"text\"", NotAnObject),
            (r#"{"anonymousId":"a"}"#, MissingType),
            (r#"{"type":"purchase","anonymousId":"a"}"#, UnknownType),
            (r#"{"type":5,"anonymousId":"a"}"#, InvalidField),
            (r#"{"type":"page"}"#, MissingIdentity),
            (r#"{"type":"page","anonymousId":""}"#, MissingIdentity),
            (r#"{"type":"page","anonymousId":{"a":1}}"#, InvalidField),
            (&long_id, TooLong),
            (r#"{"type":"track","anonymousId":"a"}"#, MissingEventName),
            (
                r#"{"type":"page","anonymousId":"a","timestamp":"soon"}"#,
                InvalidTimestamp,
            ),
            (
                r#"{"type":"page","anonymousId":"a","properties":"x"}"#,
                InvalidField,
            ),
            (
                r#"{"type":"track","event":"Product Viewed","anonymousId":"a"}"#,
                MissingProductId,
            ),
            (
                r#"{"type":"track","event":"Cart Updated","anonymousId":"a","properties":{"products":[{"name":"no id"}]}}"#,
                MissingProducts,
            ),
            (
                r#"{"type":"track","event":"Order Completed","anonymousId":"a","properties":{"products":[]}}"#,
                MissingOrderId,
            ),
            (&big, EventTooLarge),
            (&deep, TooDeep),
            (
                r#"{"type":"page","anonymousId":"a","context":{"consent":{"tracking":"denied"}}}"#,
                ConsentDenied,
            ),
            (
                r#"{"type":"page","anonymousId":"a","context":{"consent":{"tracking":"pending"}}}"#,
                ConsentDenied,
            ),
        ];
        for (raw, want) in cases {
            assert_eq!(check(raw).map(|e| e.message_id), Err(*want), "{raw:.80}");
        }
    }

    #[test]
    fn empty_cart_is_a_valid_snapshot() {
        let e = check(
            r#"{"type":"track","event":"Cart Updated","anonymousId":"a","properties":{"products":[]}}"#,
        );
        assert!(e.is_ok());
    }
}
