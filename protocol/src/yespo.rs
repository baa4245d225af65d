//! Yespo's (eSputnik's) server-side "generate event" body, accepted unchanged on its own path
//! (`POST /api/v2/event`) and mapped onto a Segment `track` event, so a backend that posts to
//! Yespo today only changes its host.
//!
//! `{"eventTypeKey": "orderCreated", "keyValue": "ana@example.com",
//!   "params": [{"name": "externalCustomerId", "value": "42"}, {"name": "total", "value": 99}]}`

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use serde_json::{json, Map, Value};

use crate::verdict::{RejectReason, Rejection};

/// Longest `eventTypeKey` Yespo accepts.
pub const MAX_EVENT_TYPE_KEY: usize = 100;
/// Longest `keyValue` Yespo accepts.
pub const MAX_KEY_VALUE: usize = 300;
/// Most events in one request (Yespo's limit for past events).
pub const MAX_EVENTS: usize = 500;

fn reject(reason: RejectReason, detail: impl Into<String>) -> Rejection {
    Rejection {
        reason,
        detail: detail.into(),
    }
}

/// The events of a request body: one object, or a list of up to [`MAX_EVENTS`].
pub fn events_of(body: Value) -> Result<Vec<Value>, String> {
    match body {
        Value::Array(list) if list.len() <= MAX_EVENTS => Ok(list),
        Value::Array(list) => Err(format!(
            "{} events in one request; the limit is {MAX_EVENTS}",
            list.len()
        )),
        object @ Value::Object(_) => Ok(alloc::vec![object]),
        _ => Err("the body must be an event object or a list of them".into()),
    }
}

/// Maps one Yespo event onto Segment's format (JSON text for `validate_event`). The contact is
/// `params.externalCustomerId`, else `keyValue` (as email, phone or customer ID by its shape);
/// email and phone parameters go to `context.traits`; every parameter goes to `properties`.
pub fn to_segment(event: &Value) -> Result<String, Rejection> {
    let obj = event
        .as_object()
        .ok_or_else(|| reject(RejectReason::NotAnObject, "each event must be an object"))?;
    let name = match obj.get("eventTypeKey") {
        Some(Value::String(k)) if !k.trim().is_empty() && k.len() <= MAX_EVENT_TYPE_KEY => k.trim(),
        Some(Value::String(k)) if k.len() > MAX_EVENT_TYPE_KEY => {
            return Err(reject(
                RejectReason::TooLong,
                format!("eventTypeKey is longer than {MAX_EVENT_TYPE_KEY}"),
            ));
        }
        _ => {
            return Err(reject(
                RejectReason::MissingEventName,
                "eventTypeKey (a non-empty string) is required",
            ))
        }
    };
    let key_value = match obj.get("keyValue") {
        None | Some(Value::Null) => None,
        Some(Value::String(v)) if v.len() <= MAX_KEY_VALUE => Some(v.trim()),
        Some(Value::String(_)) => {
            return Err(reject(
                RejectReason::TooLong,
                format!("keyValue is longer than {MAX_KEY_VALUE}"),
            ))
        }
        Some(_) => {
            return Err(reject(
                RejectReason::InvalidField,
                "keyValue must be a string",
            ))
        }
    };
    let mut properties = Map::new();
    match obj.get("params") {
        None | Some(Value::Null) => {}
        Some(Value::Array(params)) => {
            for p in params {
                let Some(name) = p
                    .get("name")
                    .and_then(Value::as_str)
                    .filter(|n| !n.is_empty())
                else {
                    return Err(reject(
                        RejectReason::InvalidField,
                        "each param needs a `name`",
                    ));
                };
                properties.insert(
                    name.to_string(),
                    p.get("value").cloned().unwrap_or(Value::Null),
                );
            }
        }
        Some(_) => {
            return Err(reject(
                RejectReason::InvalidField,
                "params must be a list of {name, value}",
            ))
        }
    }
    let text = |k: &str| {
        properties.get(k).and_then(|v| match v {
            Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
    };
    let mut traits = Map::new();
    let mut user_id = text("externalCustomerId");
    if let Some(email) = text("email") {
        traits.insert("email".into(), email.into());
    }
    if let Some(phone) = text("phone") {
        traits.insert("phone".into(), phone.into());
    }
    if let Some(key) = key_value.filter(|k| !k.is_empty()) {
        let is_phone = key.chars().filter(char::is_ascii_digit).count() >= 7
            && key
                .chars()
                .all(|c| c.is_ascii_digit() || "+-() ".contains(c));
        if key.contains('@') {
            traits.entry("email").or_insert(key.into());
        } else if is_phone {
            traits.entry("phone").or_insert(key.into());
        } else if user_id.is_none() {
            user_id = Some(key.into());
        }
        properties.insert("keyValue".into(), key.into());
    }
    let mut segment = json!({
        "type": "track",
        "event": name,
        "properties": properties,
        "context": {"traits": traits, "library": {"name": "yespo-generate-event"}},
    });
    if let Some(user) = user_id {
        segment["userId"] = user.into();
    }
    if let Some(occurred) = obj.get("occurred").and_then(Value::as_str) {
        segment["timestamp"] = occurred.into();
    }
    Ok(segment.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{validate_event, Sender};

    fn mapped(body: &str) -> Result<Value, RejectReason> {
        let raw = to_segment(&serde_json::from_str(body).unwrap()).map_err(|r| r.reason)?;
        validate_event(&raw, None, Sender::Server).map_err(|r| r.reason)?;
        Ok(serde_json::from_str(&raw).unwrap())
    }

    #[test]
    fn maps_the_documented_shape() {
        let e = mapped(
            r#"{"eventTypeKey":"orderCreated","keyValue":"Ana@Example.com","occurred":"2026-11-20T10:00:00Z",
                "params":[{"name":"externalCustomerId","value":42},{"name":"total","value":99.5},{"name":"status","value":"INITIALIZED"}]}"#,
        )
        .unwrap();
        assert_eq!(e["event"], "orderCreated");
        assert_eq!(e["userId"], "42");
        assert_eq!(e["context"]["traits"]["email"], "Ana@Example.com");
        assert_eq!(e["properties"]["total"], 99.5);
        assert_eq!(e["timestamp"], "2026-11-20T10:00:00Z");
    }

    #[test]
    fn key_value_identifies_by_its_shape() {
        let phone =
            mapped(r#"{"eventTypeKey":"smsClicked","keyValue":"+380 44 123 45 67"}"#).unwrap();
        assert_eq!(phone["context"]["traits"]["phone"], "+380 44 123 45 67");
        assert!(phone.get("userId").is_none());
        let customer = mapped(r#"{"eventTypeKey":"pageViewed","keyValue":"crm-7"}"#).unwrap();
        assert_eq!(customer["userId"], "crm-7");
    }

    #[test]
    fn refuses_what_yespo_refuses() {
        let long = format!(
            r#"{{"eventTypeKey":"{}","keyValue":"a@b.co"}}"#,
            "k".repeat(101)
        );
        for (body, reason) in [
            (r#"{"keyValue":"a@b.co"}"#, RejectReason::MissingEventName),
            (long.as_str(), RejectReason::TooLong),
            (
                r#"{"eventTypeKey":"x","keyValue":5}"#,
                RejectReason::InvalidField,
            ),
            (
                r#"{"eventTypeKey":"x","keyValue":"a@b.co","params":{"a":1}}"#,
                RejectReason::InvalidField,
            ),
            (r#"{"eventTypeKey":"x"}"#, RejectReason::MissingIdentity),
        ] {
            assert_eq!(mapped(body).map(|_| ()), Err(reason), "{body}");
        }
        assert!(events_of(serde_json::from_str("[1,2]").unwrap()).is_ok());
        assert!(events_of(Value::Array(alloc::vec![Value::Null; 501])).is_err());
        assert!(events_of(Value::Bool(true)).is_err());
    }
}
