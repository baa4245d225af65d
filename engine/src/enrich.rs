//! Enrichment that flags instead of dropping: what device and browser an event came from, and
//! whether it looks automated. Events are always stored; reports and recommenders decide what to
//! do with the flags.

use woothee::parser::Parser;

/// What a user agent says about the visitor's software.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Device {
    /// Browser name, e.g. `Chrome`, `Safari`; empty when unknown.
    pub browser: String,
    /// Operating system, e.g. `Windows 10`, `iPhone`, `Android`.
    pub os: String,
    /// `pc`, `smartphone`, `mobilephone`, `appliance`, `crawler` or `misc`.
    pub category: String,
    /// The event looks automated: a known crawler, a headless or driven browser, or an HTTP
    /// library rather than a browser.
    pub bot: bool,
}

/// Substrings of user agents that browsers driven by programs or HTTP libraries send.
const AUTOMATION_MARKERS: [&str; 12] = [
    "headlesschrome",
    "phantomjs",
    "puppeteer",
    "playwright",
    "selenium",
    "electron/",
    "curl/",
    "wget/",
    "python-requests",
    "python-urllib",
    "go-http-client",
    "okhttp",
];

/// Classifies a user agent. `webdriver` is the browser's own `navigator.webdriver` report, when
/// the tracker sent one.
pub fn device(user_agent: &str, webdriver: bool) -> Device {
    let parsed = Parser::new().parse(user_agent);
    let lower = user_agent.to_ascii_lowercase();
    let known = |s: &str| {
        if s == "UNKNOWN" {
            String::new()
        } else {
            s.to_string()
        }
    };
    let (browser, os, category) = parsed
        .as_ref()
        .map_or((String::new(), String::new(), String::new()), |r| {
            (known(r.name), known(r.os), known(r.category))
        });
    let bot = webdriver
        || category == "crawler"
        || AUTOMATION_MARKERS.iter().any(|m| lower.contains(m))
        || ["bot", "spider", "crawl"].iter().any(|w| lower.contains(w))
        || user_agent.trim().is_empty();
    Device {
        browser,
        os,
        category,
        bot,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHROME_WINDOWS: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36";
    const SAFARI_IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1";

    #[test]
    fn people_are_not_bots() {
        let d = device(CHROME_WINDOWS, false);
        assert_eq!(
            (d.browser.as_str(), d.category.as_str(), d.bot),
            ("Chrome", "pc", false)
        );
        assert!(d.os.starts_with("Windows"), "{}", d.os);
        let d = device(SAFARI_IPHONE, false);
        assert_eq!(
            (d.os.as_str(), d.category.as_str(), d.bot),
            ("iPhone", "smartphone", false)
        );
    }

    #[test]
    fn crawlers_and_automation_are_flagged() {
        let googlebot = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";
        assert!(device(googlebot, false).bot);
        let headless = CHROME_WINDOWS.replace("Chrome/", "HeadlessChrome/");
        assert!(device(&headless, false).bot);
        assert!(
            device(CHROME_WINDOWS, true).bot,
            "navigator.webdriver is a confession"
        );
        assert!(device("curl/8.5.0", false).bot);
        assert!(device("", false).bot);
    }
}
