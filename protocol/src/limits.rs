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

/// Requests one site key may make per minute, per collector instance, unless the deployment
/// sets `KEY_LIMIT_PER_MINUTE`.
pub const KEY_REQUESTS_PER_MINUTE: u32 = 60_000;

/// A fixed-window request counter: at most `limit` requests per `period_ms`, counted from the
/// first request of each window. Pure bookkeeping, so the collector can keep one per key in
/// memory and decide without a round trip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    started_ms: i64,
    used: u32,
}

impl Window {
    /// A window that has seen nothing yet.
    pub const fn new() -> Self {
        Window {
            started_ms: i64::MIN,
            used: 0,
        }
    }

    /// Counts a request at `now_ms`; `Ok(())` if it is within `limit` for its window, or
    /// `Err(ms)` with the milliseconds until the window ends (the request is not counted).
    pub fn admit(&mut self, now_ms: i64, limit: u32, period_ms: i64) -> Result<(), i64> {
        if self.started_ms == i64::MIN
            || now_ms - self.started_ms >= period_ms
            || now_ms < self.started_ms
        {
            self.started_ms = now_ms;
            self.used = 0;
        }
        if self.used >= limit {
            return Err(self.started_ms + period_ms - now_ms);
        }
        self.used += 1;
        Ok(())
    }
}

impl Default for Window {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::Window;

    #[test]
    fn a_window_admits_up_to_its_limit_then_says_how_long_to_wait() {
        let mut w = Window::new();
        // Three allowed per 1000 ms, starting at t = 5000.
        assert_eq!(w.admit(5_000, 3, 1_000), Ok(()));
        assert_eq!(w.admit(5_100, 3, 1_000), Ok(()));
        assert_eq!(w.admit(5_900, 3, 1_000), Ok(()));
        // The fourth at 5950 is refused: the window started at 5000 ends at 6000, 50 ms away.
        assert_eq!(w.admit(5_950, 3, 1_000), Err(50));
        // A refused request is not counted, and a new window opens at 6000.
        assert_eq!(w.admit(6_000, 3, 1_000), Ok(()));
        assert_eq!(w.admit(6_001, 3, 1_000), Ok(()));
        assert_eq!(w.admit(6_002, 3, 1_000), Ok(()));
        assert_eq!(w.admit(6_003, 3, 1_000), Err(997));
    }

    #[test]
    fn a_clock_that_steps_back_opens_a_new_window_instead_of_refusing_forever() {
        let mut w = Window::new();
        assert_eq!(w.admit(10_000, 1, 60_000), Ok(()));
        assert_eq!(w.admit(10_001, 1, 60_000), Err(59_999));
        assert_eq!(w.admit(9_000, 1, 60_000), Ok(()));
    }

    #[test]
    fn a_zero_limit_refuses_everything() {
        let mut w = Window::new();
        assert_eq!(w.admit(0, 0, 1_000), Err(1_000));
    }
}
