//! Identifier formats shared by the tracker and the collector.

/// Name of the first-party cookie holding the visitor's anonymous ID, written by the tracker.
pub const VISITOR_COOKIE: &str = "orb_aid";
/// The collector's copy of the visitor cookie, set from its responses on the shop's own origin:
/// server-set cookies are not capped at 7 days by Safari's tracking prevention, so the tracker
/// restores `orb_aid` from it when Safari has dropped that one. A separate name, so that a
/// response still in flight when the visitor logs out (`reset`) cannot bring the old ID back.
pub const VISITOR_COOKIE_SERVER_COPY: &str = "orb_aid_s";
/// Lifetime of the visitor cookie in seconds, as text for a `Max-Age` attribute: 400 days, the
/// most Chromium keeps. Text, because integer formatting would add `core::fmt` to the tracker.
pub const VISITOR_COOKIE_MAX_AGE: &str = "34560000";

/// URL query parameter that carries a click token in email, SMS and push links.
pub const CLICK_TOKEN_PARAMETER: &str = "orb_ct";

/// A cookie's value in a `Cookie` header or `document.cookie` string (`a=1; b=2`); `None` when
/// absent or empty.
pub fn cookie_value<'a>(cookies: &'a str, name: &str) -> Option<&'a str> {
    cookies.split(';').find_map(|pair| {
        let (k, v) = pair.trim().split_once('=')?;
        (k.trim() == name && !v.is_empty()).then_some(v.trim())
    })
}

/// Whether `text` is a lowercase hyphenated UUID (8-4-4-4-12 hex), the form of anonymous IDs the
/// tracker creates; anything else in the cookie is treated as tampered and replaced.
pub fn is_uuid(text: &str) -> bool {
    text.len() == 36
        && text.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_digit() || (b'a'..=b'f').contains(&b),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_shape() {
        assert!(is_uuid("0f8fad5b-d9cb-469f-a165-70867728950e"));
        for bad in [
            "",
            "0f8fad5b-d9cb-469f-a165-70867728950",
            "0F8FAD5B-D9CB-469F-A165-70867728950E",
            "0f8fad5b-d9cb-469f-a165-70867728950e; Path=/",
            "0f8fad5bxd9cbx469fxa165x70867728950e",
        ] {
            assert!(!is_uuid(bad), "{bad}");
        }
    }

    #[test]
    fn reads_cookie_values() {
        let jar = "a=1; orb_aid=abc; orb_aid2=zzz; empty=; spaced = v ";
        assert_eq!(cookie_value(jar, "orb_aid"), Some("abc"));
        assert_eq!(cookie_value(jar, "orb_aid2"), Some("zzz"));
        assert_eq!(cookie_value(jar, "empty"), None);
        assert_eq!(cookie_value(jar, "spaced"), Some("v"));
        assert_eq!(cookie_value(jar, "missing"), None);
        assert_eq!(cookie_value("", "a"), None);
    }

    #[test]
    fn cookie_lives_400_days() {
        assert_eq!(VISITOR_COOKIE_MAX_AGE.parse::<u32>(), Ok(400 * 24 * 3600));
    }
}
