//! Size limits of the wire format (at least Segment's, so Segment clients never hit ours first).

/// Largest accepted single event, in bytes of JSON (Segment: 32 KB).
pub const MAX_EVENT_BYTES: usize = 32 * 1024;
/// Largest accepted request body, in bytes (Segment: 500 KB per batch).
pub const MAX_BATCH_BYTES: usize = 500 * 1024;
/// Longest accepted ID (`messageId`, `anonymousId`, `userId`), in bytes.
pub const MAX_ID_BYTES: usize = 200;
/// Longest accepted event name, in bytes.
pub const MAX_EVENT_NAME_BYTES: usize = 200;
/// The tracker closes a batch at this many events...
pub const TRACKER_BATCH_EVENTS: usize = 20;
/// ...or at this many bytes, so an unload flush fits the browser's 64 KB keepalive budget.
pub const TRACKER_BATCH_BYTES: usize = 60 * 1024;
