//! The display-rule engine every widget shares, as pure logic: who is targeted (page path,
//! device, new or returning visitor, cart value, segment), how often a widget may show (after a
//! close, after a submission, once per session) and the global silent interval between any two
//! widgets. The browser glue (`forms`, `js/browser.js`) arms the triggers and asks these functions; the visitor's
//! memory is kept as a short text (no serde, no `core::fmt`: both would grow the wasm).

use protocol::site_config::{url_allowed, SESSION_GAP_MS};

const DAY_MS: f64 = 24.0 * 3600.0 * 1000.0;

/// What makes a widget appear once it is allowed to.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Trigger {
    /// As soon as the page is ready.
    Immediate,
    /// After this many seconds on the page.
    Delay(u32),
    /// Once this percentage of the page has been scrolled.
    Scroll(u32),
    /// From this page of the visitor's session on.
    Pages(u32),
    /// After this many seconds without input.
    Idle(u32),
    /// When the pointer leaves the window through the top (desktop only).
    Exit,
    /// Only when the page calls `orbita('showWidget', id)`.
    Js,
}

impl Trigger {
    /// From the configuration's `trigger` and `triggerValue`.
    pub fn parse(name: &str, value: u32) -> Trigger {
        match name {
            "delay" => Trigger::Delay(value),
            "scroll" => Trigger::Scroll(value.clamp(1, 100)),
            "pages" => Trigger::Pages(value.max(1)),
            "idle" => Trigger::Idle(value),
            "exit" => Trigger::Exit,
            "js" => Trigger::Js,
            _ => Trigger::Immediate,
        }
    }
}

/// A widget's rules, as configured.
#[derive(Clone, Debug, PartialEq)]
pub struct Rules {
    /// When it appears.
    pub trigger: Trigger,
    /// Path patterns it shows on (empty: all).
    pub url_include: Vec<String>,
    /// Path patterns it never shows on.
    pub url_exclude: Vec<String>,
    /// `any`, `desktop` or `mobile`.
    pub device: String,
    /// `any`, `new` or `returning`.
    pub visitor: String,
    /// Lowest cart value.
    pub cart_value_min: Option<f64>,
    /// Highest cart value.
    pub cart_value_max: Option<f64>,
    /// Segment the visitor must be in.
    pub segment: Option<String>,
    /// Days before a closed widget shows again.
    pub after_close_days: u32,
    /// Days before a submitted widget shows again; `None`: never again.
    pub after_submit_days: Option<u32>,
    /// At most once per session.
    pub once_per_session: bool,
    /// After closes, wait 3, then 7, then 30 days (the web-push prompt's back-off,
    /// [`crate::push::Backoff`]) instead of `after_close_days`.
    pub progressive_backoff: bool,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            trigger: Trigger::Immediate,
            url_include: Vec::new(),
            url_exclude: Vec::new(),
            device: "any".into(),
            visitor: "any".into(),
            cart_value_min: None,
            cart_value_max: None,
            segment: None,
            after_close_days: protocol::site_config::DEFAULT_AFTER_CLOSE_DAYS,
            after_submit_days: None,
            once_per_session: false,
            progressive_backoff: false,
        }
    }
}

/// What is known about the current page and visitor.
#[derive(Clone, Debug, Default)]
pub struct Visit {
    /// The page's path.
    pub path: String,
    /// Whether the device counts as mobile.
    pub mobile: bool,
    /// Whether the visitor had an earlier session.
    pub returning: bool,
    /// The cart's value, if the page tells it.
    pub cart_value: Option<f64>,
    /// Segments the visitor belongs to, if the page tells them.
    pub segments: Vec<String>,
    /// Pages seen in this session, this one included.
    pub pages: u32,
}

impl Rules {
    /// Whether the widget targets what only the visitor's profile tells: a segment or a cart
    /// value.
    pub fn needs_profile(&self) -> bool {
        self.segment.is_some() || self.cart_value_min.is_some() || self.cart_value_max.is_some()
    }
}

/// Whether the widget may be meant for this page and visitor while the profile's answer is
/// still on its way: [`targets`] with the segment and cart-value conditions left for later.
pub fn targets_before_profile(rules: &Rules, visit: &Visit) -> bool {
    targets_with(rules, visit, false)
}

/// Whether the widget is meant for this page and visitor (the trigger aside).
pub fn targets(rules: &Rules, visit: &Visit) -> bool {
    targets_with(rules, visit, true)
}

fn targets_with(rules: &Rules, visit: &Visit, profile: bool) -> bool {
    let url = url_allowed(
        rules.url_include.iter().map(String::as_str),
        rules.url_exclude.iter().map(String::as_str),
        &visit.path,
    );
    let device = match rules.device.as_str() {
        "mobile" => visit.mobile,
        "desktop" => !visit.mobile,
        _ => true,
    };
    let visitor = match rules.visitor.as_str() {
        "new" => !visit.returning,
        "returning" => visit.returning,
        _ => true,
    };
    let cart = !profile
        || match (rules.cart_value_min, rules.cart_value_max) {
            (None, None) => true,
            (lo, hi) => visit
                .cart_value
                .is_some_and(|v| lo.is_none_or(|lo| v >= lo) && hi.is_none_or(|hi| v <= hi)),
        };
    let segment = !profile
        || rules
            .segment
            .as_ref()
            .is_none_or(|s| visit.segments.iter().any(|x| x == s));
    // An exit-intent widget needs a pointer leaving the window: desktop only.
    let exit_ok = !(rules.trigger == Trigger::Exit && visit.mobile);
    url && device && visitor && cart && segment && exit_ok
}

/// What the visitor's browser remembers about one widget (times in Unix ms, 0 = never).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Seen {
    /// Widget ID.
    pub id: String,
    /// When it was last closed without a submission.
    pub closed: f64,
    /// When it was last submitted.
    pub submitted: f64,
    /// Start of the session it was last shown in.
    pub shown_session: f64,
    /// How many times it was closed without a submission.
    pub dismissals: u32,
}

/// What the visitor's browser remembers about widgets.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Memory {
    /// First page the widgets saw.
    pub first_seen: f64,
    /// Start of the current session.
    pub session_start: f64,
    /// Last page or widget activity.
    pub last_active: f64,
    /// Pages in the current session.
    pub pages: u32,
    /// When any widget (not embedded) was last shown: the silent interval counts from here.
    pub last_shown: f64,
    /// Per widget.
    pub widgets: Vec<Seen>,
}

impl Memory {
    /// Counts a page view at `now`: a gap of more than 30 minutes starts a new session.
    /// Returns whether the visitor is returning (had a session before this one).
    pub fn begin_page(&mut self, now: f64) -> bool {
        if self.first_seen == 0.0 {
            self.first_seen = now;
        }
        if self.session_start == 0.0 || now - self.last_active > SESSION_GAP_MS {
            self.session_start = now;
            self.pages = 0;
        }
        self.pages += 1;
        self.last_active = now;
        self.first_seen < self.session_start
    }

    /// Changes the memory of one widget (created on first use). A callback rather than a
    /// `&mut` return: no indexing, so no panic path (and its formatting code) in the wasm.
    pub fn update(&mut self, id: &str, change: impl FnOnce(&mut Seen)) {
        if let Some(seen) = self.widgets.iter_mut().find(|s| s.id == id) {
            change(seen);
            return;
        }
        let mut seen = Seen {
            id: id.into(),
            ..Seen::default()
        };
        change(&mut seen);
        self.widgets.push(seen);
    }

    /// Whether the frequency rules let the widget show at `now`. `interrupts` is false for
    /// embedded forms, which are part of the page and neither wait for nor start the silent
    /// interval.
    pub fn allows(
        &self,
        id: &str,
        rules: &Rules,
        now: f64,
        silent_interval_s: u32,
        interrupts: bool,
    ) -> bool {
        if interrupts
            && self.last_shown > 0.0
            && now - self.last_shown < f64::from(silent_interval_s) * 1000.0
        {
            return false;
        }
        let Some(seen) = self.widgets.iter().find(|s| s.id == id) else {
            return true;
        };
        if seen.submitted > 0.0 {
            match rules.after_submit_days {
                None => return false,
                Some(days) if now - seen.submitted < f64::from(days) * DAY_MS => return false,
                Some(_) => {}
            }
        }
        if rules.progressive_backoff {
            let backoff = crate::push::Backoff {
                dismissals: seen.dismissals,
                last_dismissed_ms: seen.closed,
            };
            if !backoff.may_prompt(now) {
                return false;
            }
        } else if seen.closed > 0.0
            && now - seen.closed < f64::from(rules.after_close_days) * DAY_MS
        {
            return false;
        }
        !(rules.once_per_session && seen.shown_session == self.session_start)
    }

    /// Records that a widget was shown at `now`.
    pub fn shown(&mut self, id: &str, now: f64, interrupts: bool) {
        let session = self.session_start;
        self.update(id, |s| s.shown_session = session);
        if interrupts {
            self.last_shown = now;
        }
        self.last_active = now;
    }

    /// Encodes the memory as one line of text: five numbers, then `id,closed,submitted,session`
    /// per widget (`id,closed,submitted,session,dismissals`), separated by `|`. (Widget IDs are `[A-Za-z0-9_-]`, so never contain these.)
    pub fn encode(&self) -> String {
        let mut out = String::from("1");
        for n in [
            self.first_seen,
            self.session_start,
            self.last_active,
            f64::from(self.pages),
            self.last_shown,
        ] {
            out.push(' ');
            push_number(&mut out, n);
        }
        for s in &self.widgets {
            out.push('|');
            out.push_str(&s.id);
            for n in [
                s.closed,
                s.submitted,
                s.shown_session,
                f64::from(s.dismissals),
            ] {
                out.push(',');
                push_number(&mut out, n);
            }
        }
        out
    }

    /// Decodes [`Memory::encode`]'s text; anything unreadable gives an empty memory.
    pub fn decode(text: &str) -> Memory {
        Self::try_decode(text).unwrap_or_default()
    }

    fn try_decode(text: &str) -> Option<Memory> {
        let mut parts = text.split('|');
        let mut head = parts.next()?.split(' ');
        if head.next()? != "1" {
            return None;
        }
        let mut next = || {
            head.next()
                .and_then(|n| n.parse::<u64>().ok())
                .map(|n| n as f64)
        };
        let mut memory = Memory {
            first_seen: next()?,
            session_start: next()?,
            last_active: next()?,
            pages: next()? as u32,
            last_shown: next()?,
            widgets: Vec::new(),
        };
        for part in parts {
            let mut fields = part.split(',');
            let id = fields.next()?.into();
            let mut next = || {
                fields
                    .next()
                    .and_then(|n| n.parse::<u64>().ok())
                    .map(|n| n as f64)
            };
            memory.widgets.push(Seen {
                id,
                closed: next()?,
                submitted: next()?,
                shown_session: next()?,
                // Absent in memories written before dismissals were counted.
                dismissals: next().unwrap_or(0.0) as u32,
            });
        }
        Some(memory)
    }
}

/// Appends a non-negative whole number (milliseconds) without `core::fmt`.
fn push_number(out: &mut String, n: f64) {
    let mut n = if n.is_finite() && n > 0.0 {
        n as u64
    } else {
        0
    };
    let mut digits = Vec::new();
    loop {
        digits.push(char::from(b'0' + (n % 10) as u8));
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend(digits.iter().rev());
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: f64 = 60_000.0;

    fn rules() -> Rules {
        Rules::default()
    }

    fn visit(path: &str) -> Visit {
        Visit {
            path: path.into(),
            pages: 1,
            ..Visit::default()
        }
    }

    #[test]
    fn before_the_profile_only_the_page_conditions_count() {
        let mut r = rules();
        r.url_include = vec!["/p/*".into()];
        r.segment = Some("vip".into());
        r.cart_value_min = Some(50.0);
        assert!(r.needs_profile());
        assert!(!rules().needs_profile());
        // Not a VIP and no cart yet: not targeted, but may be once the profile answers.
        assert!(!targets(&r, &visit("/p/1")));
        assert!(targets_before_profile(&r, &visit("/p/1")));
        // The page conditions still decide.
        assert!(!targets_before_profile(&r, &visit("/cart")));
        let vip = Visit {
            segments: vec!["vip".into()],
            cart_value: Some(60.0),
            ..visit("/p/1")
        };
        assert!(targets(&r, &vip));
    }

    #[test]
    fn targeting_by_url_device_visitor_cart_and_segment() {
        let mut r = rules();
        r.url_include = vec!["/p/*".into()];
        r.url_exclude = vec!["/p/LL-1".into()];
        assert!(targets(&r, &visit("/p/LL-2")));
        assert!(!targets(&r, &visit("/p/LL-1")));
        assert!(!targets(&r, &visit("/cart")));

        let mut r = rules();
        r.device = "mobile".into();
        assert!(!targets(&r, &visit("/")));
        assert!(targets(
            &r,
            &Visit {
                mobile: true,
                ..visit("/")
            }
        ));
        r.device = "desktop".into();
        assert!(targets(&r, &visit("/")));

        let mut r = rules();
        r.visitor = "returning".into();
        assert!(!targets(&r, &visit("/")));
        assert!(targets(
            &r,
            &Visit {
                returning: true,
                ..visit("/")
            }
        ));
        r.visitor = "new".into();
        assert!(targets(&r, &visit("/")));

        let mut r = rules();
        r.cart_value_min = Some(50.0);
        assert!(!targets(&r, &visit("/")), "no cart value known");
        assert!(!targets(
            &r,
            &Visit {
                cart_value: Some(49.99),
                ..visit("/")
            }
        ));
        assert!(targets(
            &r,
            &Visit {
                cart_value: Some(50.0),
                ..visit("/")
            }
        ));
        r.cart_value_max = Some(100.0);
        assert!(!targets(
            &r,
            &Visit {
                cart_value: Some(100.5),
                ..visit("/")
            }
        ));

        let mut r = rules();
        r.segment = Some("vip".into());
        assert!(!targets(&r, &visit("/")));
        assert!(targets(
            &r,
            &Visit {
                segments: vec!["vip".into()],
                ..visit("/")
            }
        ));

        let mut r = rules();
        r.trigger = Trigger::Exit;
        assert!(targets(&r, &visit("/")));
        assert!(
            !targets(
                &r,
                &Visit {
                    mobile: true,
                    ..visit("/")
                }
            ),
            "exit intent is desktop only"
        );
    }

    #[test]
    fn sessions_and_returning_visitors() {
        let mut m = Memory::default();
        assert!(!m.begin_page(1_000.0));
        assert_eq!(m.pages, 1);
        assert!(!m.begin_page(1_000.0 + 29.0 * MIN));
        assert_eq!(m.pages, 2);
        assert!(
            m.begin_page(1_000.0 + 60.0 * MIN),
            "a 31-minute gap starts a new session"
        );
        assert_eq!(m.pages, 1);
    }

    #[test]
    fn the_silent_interval_holds_between_any_two_widgets() {
        let r = rules();
        let mut m = Memory::default();
        m.begin_page(0.0 + 1.0);
        assert!(m.allows("a", &r, 1.0, 180, true));
        m.shown("a", 1.0, true);
        assert!(!m.allows("b", &r, 1.0 + 179_000.0, 180, true));
        assert!(m.allows("b", &r, 1.0 + 180_000.0, 180, true));
        assert!(
            m.allows("b", &r, 1.0 + 1_000.0, 180, false),
            "embedded forms do not wait"
        );
    }

    #[test]
    fn caps_after_close_after_submit_and_per_session() {
        let mut r = rules();
        r.after_close_days = 2;
        let mut m = Memory::default();
        m.begin_page(1.0);
        m.update("a", |s| s.closed = 1.0);
        assert!(!m.allows("a", &r, 1.0 + DAY_MS, 0, true));
        assert!(m.allows("a", &r, 1.0 + 2.0 * DAY_MS, 0, true));

        let mut m = Memory::default();
        m.begin_page(1.0);
        m.update("a", |s| s.submitted = 1.0);
        assert!(
            !m.allows("a", &r, 1.0 + 1000.0 * DAY_MS, 0, true),
            "never again by default"
        );
        r.after_submit_days = Some(7);
        assert!(!m.allows("a", &r, 1.0 + 6.0 * DAY_MS, 0, true));
        assert!(m.allows("a", &r, 1.0 + 7.0 * DAY_MS, 0, true));

        let mut r = rules();
        r.once_per_session = true;
        let mut m = Memory::default();
        m.begin_page(1.0);
        m.shown("a", 1.0, true);
        assert!(!m.allows("a", &r, 2.0, 0, true));
        m.begin_page(2.0 + 31.0 * MIN);
        assert!(m.allows("a", &r, 2.0 + 31.0 * MIN, 0, true));
    }

    #[test]
    fn the_push_prompt_backs_off_3_then_7_then_30_days() {
        let mut r = rules();
        r.progressive_backoff = true;
        r.after_close_days = 1; // ignored: the back-off decides
        let mut m = Memory::default();
        let t0 = 1_700_000_000_000.0;
        let mut now = t0;
        for wait in [3.0, 7.0, 30.0, 30.0] {
            m.update("push", |s| {
                s.closed = now;
                s.dismissals += 1;
            });
            assert!(
                !m.allows("push", &r, now + wait * DAY_MS - 1.0, 0, true),
                "{wait}"
            );
            assert!(m.allows("push", &r, now + wait * DAY_MS, 0, true), "{wait}");
            now += wait * DAY_MS;
        }
    }

    #[test]
    fn memory_round_trips_through_text() {
        let mut m = Memory::default();
        m.begin_page(1_700_000_000_123.0);
        m.shown("welcome-1", 1_700_000_000_500.0, true);
        m.update("bar_2", |s| s.closed = 1_700_000_100_000.0);
        m.update("push", |s| s.dismissals = 2);
        let text = m.encode();
        assert_eq!(Memory::decode(&text), m);
        // A memory written before dismissals were counted still reads.
        let old = Memory::decode("1 1 1 1 1 0|a,5,0,1");
        assert_eq!(old.widgets[0].closed, 5.0);
        assert_eq!(old.widgets[0].dismissals, 0);
        assert_eq!(Memory::decode("garbage"), Memory::default());
        assert_eq!(Memory::decode("1 1 2"), Memory::default());
    }

    #[test]
    fn triggers() {
        assert_eq!(Trigger::parse("delay", 5), Trigger::Delay(5));
        assert_eq!(Trigger::parse("scroll", 500), Trigger::Scroll(100));
        assert_eq!(Trigger::parse("pages", 0), Trigger::Pages(1));
        assert_eq!(Trigger::parse("nonsense", 3), Trigger::Immediate);
    }
}
