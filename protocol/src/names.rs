//! Field names of the wire format (Segment's spelling), so no side types them twice.

/// Top-level key of a batch body holding the events.
pub const BATCH: &str = "batch";
/// Event kind: `track`, `page`, `identify`, `screen`, `group` or `alias`.
pub const TYPE: &str = "type";
/// Name of a `track` event, e.g. `Product Viewed`.
pub const EVENT: &str = "event";
/// Client-generated unique ID of the event; the collector deduplicates on it.
pub const MESSAGE_ID: &str = "messageId";
/// The visitor's anonymous ID (first-party cookie).
pub const ANONYMOUS_ID: &str = "anonymousId";
/// The shop's own ID of a known customer.
pub const USER_ID: &str = "userId";
/// Event payload of `track` and `page` events.
pub const PROPERTIES: &str = "properties";
/// Customer attributes of `identify` events.
pub const TRAITS: &str = "traits";
/// Where the event happened: page, user agent, library, locale...
pub const CONTEXT: &str = "context";
/// When the event happened, by the client's clock (RFC 3339).
pub const TIMESTAMP: &str = "timestamp";
/// When the client sent the batch, by the client's clock (RFC 3339).
pub const SENT_AT: &str = "sentAt";
/// Public write key of the site, in the body (alternative to HTTP Basic auth).
pub const WRITE_KEY: &str = "writeKey";
/// Per-session sequence number of the event (Orbita extension, inside `context`).
pub const SEQUENCE: &str = "seq";
/// Name of the event library in `context.library`.
pub const LIBRARY: &str = "library";
/// Consent state in `context.consent`: `{"tracking": "granted" | "denied" | "pending"}`.
pub const CONSENT: &str = "consent";
/// Purpose key inside `context.consent` that covers tracking.
pub const CONSENT_TRACKING: &str = "tracking";
/// Page details in `context.page`.
pub const PAGE: &str = "page";

/// The event types of Segment's spec.
pub mod types {
    /// A custom or ecommerce action, named by `event`.
    pub const TRACK: &str = "track";
    /// A page view.
    pub const PAGE: &str = "page";
    /// A screen view (apps).
    pub const SCREEN: &str = "screen";
    /// Who the visitor is, with traits.
    pub const IDENTIFY: &str = "identify";
    /// Association of a user with a group or account.
    pub const GROUP: &str = "group";
    /// Merge of two user identities.
    pub const ALIAS: &str = "alias";
    /// Every type the collector accepts.
    pub const ALL: [&str; 6] = [TRACK, PAGE, SCREEN, IDENTIFY, GROUP, ALIAS];
}
