//! What the collector answers: a verdict per event, and typed reasons for every rejection.

use alloc::string::String;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

/// Why one event was rejected. The `code` is stable and machine-readable; clients keep it for
/// debugging and never retry an event rejected for one of these reasons.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectReason {
    /// The event's JSON is larger than [`crate::limits::MAX_EVENT_BYTES`].
    EventTooLarge,
    /// The batch entry is not a JSON object.
    NotAnObject,
    /// The event nests deeper than the parser's limit (128 levels).
    TooDeep,
    /// `type` is missing.
    MissingType,
    /// `type` is not one of Segment's event types.
    UnknownType,
    /// A known field has the wrong JSON type (e.g. `properties` is a string).
    InvalidField,
    /// Neither `userId` nor `anonymousId` is a non-empty string.
    MissingIdentity,
    /// An ID or event name is longer than the limit.
    TooLong,
    /// A `track` event has no `event` name.
    MissingEventName,
    /// `timestamp` or `sentAt` is not an RFC 3339 date-time.
    InvalidTimestamp,
    /// A product event has no `properties.product_id`.
    MissingProductId,
    /// A cart or order event has no `properties.products` list of products with IDs.
    MissingProducts,
    /// An order event has no `properties.order_id`.
    MissingOrderId,
    /// The event was captured while the visitor had refused (or not yet given) consent to
    /// tracking (`context.consent.tracking` is `denied` or `pending`): it is not stored.
    ConsentDenied,
}

impl RejectReason {
    /// The stable code sent on the wire.
    pub fn code(self) -> &'static str {
        match self {
            Self::EventTooLarge => "event_too_large",
            Self::NotAnObject => "not_an_object",
            Self::TooDeep => "too_deep",
            Self::MissingType => "missing_type",
            Self::UnknownType => "unknown_type",
            Self::InvalidField => "invalid_field",
            Self::MissingIdentity => "missing_identity",
            Self::TooLong => "too_long",
            Self::MissingEventName => "missing_event_name",
            Self::InvalidTimestamp => "invalid_timestamp",
            Self::MissingProductId => "missing_product_id",
            Self::MissingProducts => "missing_products",
            Self::MissingOrderId => "missing_order_id",
            Self::ConsentDenied => "consent_denied",
        }
    }
}

/// A rejection of one event: the reason code plus a sentence a developer can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// Machine-readable reason.
    pub reason: RejectReason,
    /// Human-readable detail, e.g. which field was wrong.
    pub detail: String,
}

/// Outcome of one event of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Stored now.
    Accepted,
    /// Already stored earlier (same `messageId`); nothing was stored twice.
    Duplicate,
    /// Not stored; see the reason. Retrying the same event will not help.
    Rejected,
}

/// The verdict on one event, in the order the events were sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventVerdict {
    /// The event's `messageId` (or the one the collector derived), when it had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// What happened to the event.
    pub status: Status,
    /// Reason code when rejected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Human-readable detail when rejected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl EventVerdict {
    /// A verdict for a rejected event.
    pub fn rejected(message_id: Option<String>, rejection: Rejection) -> Self {
        Self {
            message_id,
            status: Status::Rejected,
            reason: Some(rejection.reason.code().into()),
            detail: Some(rejection.detail),
        }
    }
}

/// The body of a `200` answer to `POST /v1/batch`. `success` is Segment's field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchVerdict {
    /// True when the request was understood (even if some events were rejected).
    pub success: bool,
    /// Number of events stored now.
    pub accepted: u32,
    /// Number of events already stored before.
    pub duplicates: u32,
    /// Number of events rejected.
    pub rejected: u32,
    /// One verdict per event, in request order.
    pub events: Vec<EventVerdict>,
}

impl BatchVerdict {
    /// Builds the answer from per-event verdicts, counting each status.
    pub fn from_events(events: Vec<EventVerdict>) -> Self {
        let count = |s: Status| events.iter().filter(|v| v.status == s).count() as u32;
        Self {
            success: true,
            accepted: count(Status::Accepted),
            duplicates: count(Status::Duplicate),
            rejected: count(Status::Rejected),
            events,
        }
    }
}

/// The body of an error answer (`400`, `401`, `413`, ...): nothing in the request was stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Always false.
    pub success: bool,
    /// Machine-readable error code, e.g. `malformed_json`.
    pub error: String,
    /// What was wrong and what to do about it.
    pub message: String,
}
