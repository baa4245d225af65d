//! Consent to tracking. Three modes, chosen by the shop on the script tag:
//! - default: tracking is on (`granted`), for shops whose consent banner is handled elsewhere;
//! - `data-consent="required"`: nothing is sent and nothing is written to cookies or storage
//!   until `orbita('consent', 'granted')`; events captured meanwhile wait in memory and are sent
//!   then, or dropped on `orbita('consent', 'denied')`;
//! - `data-respect-gpc="on"`: a browser that sends Global Privacy Control or Do Not Track starts
//!   as `denied`.
//!
//! Denial forgets what the tracker had written. Every sent event carries
//! `context.consent.tracking`, and the collector refuses events captured without consent.

use crate::{js, Settings};

/// The visitor's consent to tracking.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Consent {
    /// Track: cookies, storage and sending allowed.
    Granted,
    /// Never track: nothing written, nothing sent.
    Denied,
    /// Not decided yet (consent required): hold events in memory, write nothing.
    Pending,
}

impl Consent {
    /// The value sent in `context.consent.tracking`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Granted => "granted",
            Self::Denied => "denied",
            Self::Pending => "pending",
        }
    }

    /// Parses the argument of `orbita('consent', ...)`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "granted" | "grant" | "yes" => Some(Self::Granted),
            "denied" | "deny" | "no" => Some(Self::Denied),
            _ => None,
        }
    }
}

/// Whether the browser asks sites not to track (Global Privacy Control or Do Not Track).
fn browser_opts_out() -> bool {
    let navigator = js::get(&js::window(), "navigator");
    js::get(&navigator, "globalPrivacyControl").as_bool() == Some(true)
        || js::get_text(&navigator, "doNotTrack").as_deref() == Some("1")
}

/// The state a page starts in. With consent required, an existing visitor cookie means the
/// visitor granted consent on an earlier page (it is only ever written after consent).
pub fn initial(settings: &Settings, has_visitor_cookie: bool) -> Consent {
    if settings.respect_gpc && browser_opts_out() {
        Consent::Denied
    } else if settings.consent_required && !has_visitor_cookie {
        Consent::Pending
    } else {
        Consent::Granted
    }
}
