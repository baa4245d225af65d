//! A `POST /v1/batch` body: parsing the envelope and validating each event in it.

use alloc::collections::BTreeSet;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::event::{message_id_of, validate_event, Sender, ValidEvent};
use crate::limits::{MAX_BATCH_BYTES, MAX_EVENT_BYTES};
use crate::names;
use crate::time::parse_rfc3339_ms;
use crate::verdict::{ErrorBody, EventVerdict, Rejection, Status};

/// Why a whole request was refused (nothing in it was stored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchError {
    /// Body larger than the endpoint's limit ([`MAX_BATCH_BYTES`], or [`MAX_EVENT_BYTES`] for
    /// single-event endpoints) → HTTP 413.
    TooLarge {
        /// Size of the body (or the `Content-Length` the client announced).
        bytes: usize,
        /// The limit it broke.
        limit: usize,
    },
    /// `Content-Encoding` other than `gzip` or `identity` → 415.
    UnsupportedEncoding(String),
    /// A gzip body that does not decompress → 400.
    BadCompression,
    /// Body is not UTF-8 → 400.
    InvalidUtf8,
    /// Body is not JSON, or nests too deep to parse → 400.
    MalformedJson(String),
    /// JSON without a `batch` list of events → 400.
    MissingBatch,
}

impl BatchError {
    /// The HTTP status for this error.
    pub fn status(&self) -> u16 {
        match self {
            Self::TooLarge { .. } => 413,
            Self::UnsupportedEncoding(_) => 415,
            _ => 400,
        }
    }

    /// The JSON error body for this error.
    pub fn body(&self) -> ErrorBody {
        let (error, message) = match self {
            Self::TooLarge { bytes, limit } => (
                if *limit == MAX_EVENT_BYTES { "event_too_large" } else { "batch_too_large" },
                format!("body is {bytes} bytes (uncompressed); the limit is {limit}: send smaller batches"),
            ),
            Self::UnsupportedEncoding(encoding) => (
                "unsupported_encoding",
                format!("Content-Encoding {encoding:?} is not supported; send gzip or no encoding"),
            ),
            Self::BadCompression => ("bad_compression", "the gzip body could not be decompressed".into()),
            Self::InvalidUtf8 => ("invalid_utf8", "body must be UTF-8 encoded JSON".into()),
            Self::MalformedJson(detail) => (
                "malformed_json",
                format!("body is not valid JSON: {detail}"),
            ),
            Self::MissingBatch => (
                "missing_batch",
                "body must be a JSON object with a `batch` array of events".into(),
            ),
        };
        ErrorBody {
            success: false,
            error: error.into(),
            message,
        }
    }
}

/// A parsed batch envelope; the events are still raw text until [`Batch::validate`].
#[derive(Debug)]
pub struct Batch<'a> {
    /// Raw events, in request order.
    pub events: Vec<&'a RawValue>,
    /// The batch's `sentAt`, Unix ms.
    pub sent_at_ms: Option<i64>,
    /// Write key sent in the body, if any.
    pub write_key: Option<String>,
}

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow)]
    batch: Option<Vec<&'a RawValue>>,
    #[serde(rename = "sentAt")]
    sent_at: Option<&'a RawValue>,
    #[serde(rename = "writeKey")]
    write_key: Option<String>,
}

/// Parses a batch body. Size is checked before anything is parsed.
pub fn parse_batch(body: &[u8]) -> Result<Batch<'_>, BatchError> {
    if body.len() > MAX_BATCH_BYTES {
        return Err(BatchError::TooLarge {
            bytes: body.len(),
            limit: MAX_BATCH_BYTES,
        });
    }
    let text = core::str::from_utf8(body).map_err(|_| BatchError::InvalidUtf8)?;
    let value: &RawValue =
        serde_json::from_str(text).map_err(|e| BatchError::MalformedJson(format!("{e}")))?;
    if !value.get().trim_start().starts_with('{') {
        return Err(BatchError::MissingBatch);
    }
    let envelope: Envelope<'_> =
        serde_json::from_str(text).map_err(|_| BatchError::MissingBatch)?;
    let sent_at_ms = envelope
        .sent_at
        .and_then(|raw| serde_json::from_str::<&str>(raw.get()).ok())
        .and_then(parse_rfc3339_ms);
    Ok(Batch {
        events: envelope.batch.ok_or(BatchError::MissingBatch)?,
        sent_at_ms,
        write_key: envelope.write_key,
    })
}

/// A body of a single-event endpoint (`/v1/track`, `/v1/page`, ...), turned into one raw event.
#[derive(Debug)]
pub struct Single {
    /// The event as JSON text, with `type` set from the endpoint.
    pub raw: String,
    /// Write key sent in the body, if any (removed from the event).
    pub write_key: Option<String>,
}

/// Parses the body of a single-event endpoint. `kind` (from the path) overrides any `type` in
/// the body, as Segment does.
pub fn parse_single(body: &[u8], kind: &str) -> Result<Single, BatchError> {
    if body.len() > MAX_EVENT_BYTES {
        return Err(BatchError::TooLarge {
            bytes: body.len(),
            limit: MAX_EVENT_BYTES,
        });
    }
    let text = core::str::from_utf8(body).map_err(|_| BatchError::InvalidUtf8)?;
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| BatchError::MalformedJson(format!("{e}")))?;
    let serde_json::Value::Object(mut event) = value else {
        return Err(BatchError::MalformedJson(
            "the body must be one JSON object (an event)".into(),
        ));
    };
    let write_key = match event.remove(names::WRITE_KEY) {
        Some(serde_json::Value::String(k)) => Some(k),
        _ => None,
    };
    event.insert(names::TYPE.into(), kind.into());
    Ok(Single {
        raw: serde_json::Value::Object(event).to_string(),
        write_key,
    })
}

/// Result of validating one event of a batch.
#[derive(Debug)]
pub enum Checked {
    /// Valid, and the first time its `messageId` appears in this batch: to be stored.
    Valid(ValidEvent),
    /// Same `messageId` as an earlier event of this batch.
    RepeatInBatch(String),
    /// Invalid.
    Rejected(Option<String>, Rejection),
}

impl Checked {
    /// The verdict when this event needs no storage decision (repeat or rejection).
    pub fn settled_verdict(&self) -> Option<EventVerdict> {
        match self {
            Self::Valid(_) => None,
            Self::RepeatInBatch(id) => Some(EventVerdict {
                message_id: Some(id.clone()),
                status: Status::Duplicate,
                reason: None,
                detail: None,
            }),
            Self::Rejected(id, r) => Some(EventVerdict::rejected(id.clone(), r.clone())),
        }
    }
}

impl Batch<'_> {
    /// Validates every event; invalid ones do not affect their valid neighbours.
    pub fn validate(&self, sender: Sender) -> Vec<Checked> {
        let mut seen = BTreeSet::new();
        self.events
            .iter()
            .map(
                |raw| match validate_event(raw.get(), self.sent_at_ms, sender) {
                    Ok(event) if !seen.insert(event.message_id.clone()) => {
                        Checked::RepeatInBatch(event.message_id)
                    }
                    Ok(event) => Checked::Valid(event),
                    Err(rejection) => Checked::Rejected(message_id_of(raw.get()), rejection),
                },
            )
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_errors() {
        assert_eq!(parse_batch(b"{not json").unwrap_err().status(), 400);
        assert!(matches!(
            parse_batch(b"{not json").unwrap_err(),
            BatchError::MalformedJson(_)
        ));
        assert_eq!(parse_batch(b"[1]").unwrap_err(), BatchError::MissingBatch);
        assert_eq!(
            parse_batch(b"{\"events\":[]}").unwrap_err(),
            BatchError::MissingBatch
        );
        assert_eq!(
            parse_batch(b"{\"batch\":{}}").unwrap_err(),
            BatchError::MissingBatch
        );
        assert_eq!(
            parse_batch(b"{\"batch\":[\xff]}").unwrap_err(),
            BatchError::InvalidUtf8
        );
        // Deep nesting inside one event rejects that event only (see the event tests).
        let deep = format!("{{\"batch\":[{}{}]}}", "[".repeat(300), "]".repeat(300));
        let batch = parse_batch(deep.as_bytes()).unwrap();
        assert!(matches!(
            batch.validate(Sender::Browser)[0],
            Checked::Rejected(..)
        ));
        let huge = alloc::vec![b' '; MAX_BATCH_BYTES + 1];
        assert_eq!(parse_batch(&huge).unwrap_err().status(), 413);
    }

    #[test]
    fn single_event_bodies() {
        let single = parse_single(
            br#"{"type":"page","event":"Signed Up","userId":"u","writeKey":"k"}"#,
            "track",
        )
        .unwrap();
        assert_eq!(single.write_key.as_deref(), Some("k"));
        let event = validate_event(&single.raw, None, Sender::Browser).unwrap();
        assert_eq!(
            (event.kind, event.name.as_deref()),
            ("track", Some("Signed Up"))
        );
        assert!(
            !single.raw.contains("writeKey"),
            "the key is not stored with the event"
        );
        assert!(matches!(
            parse_single(b"[1]", "track"),
            Err(BatchError::MalformedJson(_))
        ));
        let big = alloc::vec![b' '; MAX_EVENT_BYTES + 1];
        let err = parse_single(&big, "track").unwrap_err();
        assert_eq!(
            (err.status(), err.body().error.as_str()),
            (413, "event_too_large")
        );
    }

    #[test]
    fn mixed_batch_keeps_valid_neighbours() {
        let body = br#"{"sentAt":"2026-11-23T10:00:05Z","writeKey":"k","batch":[
            {"type":"page","anonymousId":"a","messageId":"1"},
            {"type":"nope","anonymousId":"a","messageId":"2"},
            {"type":"page","anonymousId":"a","messageId":"1"},
            42,
            {"type":"track","event":"Signed Up","userId":"u","messageId":"3","timestamp":"2026-11-23T10:00:00Z"}
        ]}"#;
        let batch = parse_batch(body).unwrap();
        assert_eq!(batch.write_key.as_deref(), Some("k"));
        let checked = batch.validate(Sender::Browser);
        let kinds: Vec<&str> = checked
            .iter()
            .map(|c| match c {
                Checked::Valid(_) => "valid",
                Checked::RepeatInBatch(_) => "repeat",
                Checked::Rejected(..) => "rejected",
            })
            .collect();
        assert_eq!(kinds, ["valid", "rejected", "repeat", "rejected", "valid"]);
        let Checked::Valid(last) = &checked[4] else {
            unreachable!()
        };
        assert_eq!(last.sent_at_ms, parse_rfc3339_ms("2026-11-23T10:00:05Z"));
        let Checked::Rejected(id, _) = &checked[1] else {
            unreachable!()
        };
        assert_eq!(id.as_deref(), Some("2"));
    }
}
