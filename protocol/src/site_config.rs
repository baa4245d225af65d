//! The site configuration: which on-site widgets a shop runs, their display rules, texts, form
//! fields, styles and A/B variants, plus the web-push settings. Stored by the collector per
//! site (`PUT /v1/admin/site-config`), served to browsers (`GET /v1/site-config`) and read by
//! the widgets module, which reads it without serde (field names below) to stay small.
//!
//! ```json
//! {"silentIntervalSeconds": 180,
//!  "widgets": [{"id": "welcome", "kind": "popup", "doubleOptIn": true,
//!    "rules": {"trigger": "delay", "triggerValue": 5, "urlInclude": ["/p/*"], "afterCloseDays": 30},
//!    "texts": {"title": "10 % off", "button": "Subscribe", "consent": "I agree to receive emails"},
//!    "fields": [{"name": "email", "type": "email", "label": "Email", "required": true}],
//!    "style": {"--orbita-accent": "#2f5d50"},
//!    "variants": [{"name": "a", "weight": 1}, {"name": "b", "weight": 1, "texts": {"title": "Free shipping"}}]}],
//!  "push": {"enabled": false}}
//! ```

/// Default pause between any two widgets shown to one visitor (Yespo's "annoyance safeguard").
pub const DEFAULT_SILENT_INTERVAL_SECONDS: u32 = 180;
/// Default wait after a visitor closed a widget before it may show again.
pub const DEFAULT_AFTER_CLOSE_DAYS: u32 = 30;
/// Most widgets one site may configure.
pub const MAX_WIDGETS: usize = 50;
/// Longest text (title, body, consent, ...) in characters.
pub const MAX_TEXT_CHARS: usize = 2000;
/// A visitor session ends after this much inactivity (as the tracker's sessions).
pub const SESSION_GAP_MS: f64 = 30.0 * 60.0 * 1000.0;

/// Field names of the configuration document.
pub mod fields {
    /// Global pause between two widgets, in seconds.
    pub const SILENT_INTERVAL: &str = "silentIntervalSeconds";
    /// The list of widgets.
    pub const WIDGETS: &str = "widgets";
    /// Widget or field: its ID / name.
    pub const ID: &str = "id";
    /// Widget: `popup`, `floating`, `bar`, `embedded` or `push`.
    pub const KIND: &str = "kind";
    /// Widget: where a floating box (`bottom-right`, ...) or a bar (`top`, `bottom`) sits.
    pub const POSITION: &str = "position";
    /// Widget: whether a submission needs confirming by email (status `pending` until then).
    pub const DOUBLE_OPT_IN: &str = "doubleOptIn";
    /// Widget: display rules.
    pub const RULES: &str = "rules";
    /// Widget or variant: texts.
    pub const TEXTS: &str = "texts";
    /// Widget: form fields.
    pub const FIELDS: &str = "fields";
    /// Widget or variant: CSS custom properties (`--orbita-*`) and their values.
    pub const STYLE: &str = "style";
    /// Widget: A/B variants.
    pub const VARIANTS: &str = "variants";
    /// Variant or field: name.
    pub const NAME: &str = "name";
    /// Variant: share of traffic (any positive scale).
    pub const WEIGHT: &str = "weight";
    /// Field: `email`, `phone`, `name` or `text` (a custom field).
    pub const TYPE: &str = "type";
    /// Field: visible label.
    pub const LABEL: &str = "label";
    /// Field: whether it must be filled in.
    pub const REQUIRED: &str = "required";
    /// Texts: heading.
    pub const TITLE: &str = "title";
    /// Texts: paragraph under the heading.
    pub const BODY: &str = "body";
    /// Texts: submit button.
    pub const BUTTON: &str = "button";
    /// Texts: shown after a successful submission.
    pub const SUCCESS: &str = "success";
    /// Texts: consent checkbox label (the checkbox is shown and required when present).
    pub const CONSENT: &str = "consent";
    /// Texts: accessible name of the close button.
    pub const CLOSE: &str = "close";
    /// Texts: the web-push prompt's "not now" button.
    pub const LATER: &str = "later";
    /// Every key a widget's `texts` may have.
    pub const TEXT_KEYS: [&str; 7] = [TITLE, BODY, BUTTON, SUCCESS, CONSENT, CLOSE, LATER];
    /// Rules: `immediate`, `delay`, `scroll`, `pages`, `idle`, `exit` or `js`.
    pub const TRIGGER: &str = "trigger";
    /// Rules: the trigger's number (seconds for delay/idle, percent for scroll, pages for pages).
    pub const TRIGGER_VALUE: &str = "triggerValue";
    /// Rules: path patterns the widget shows on (`*` matches anything); empty = everywhere.
    pub const URL_INCLUDE: &str = "urlInclude";
    /// Rules: path patterns the widget never shows on.
    pub const URL_EXCLUDE: &str = "urlExclude";
    /// Rules: `any`, `desktop` or `mobile`.
    pub const DEVICE: &str = "device";
    /// Rules: `any`, `new` or `returning`.
    pub const VISITOR: &str = "visitor";
    /// Rules: lowest cart value (inclusive).
    pub const CART_VALUE_MIN: &str = "cartValueMin";
    /// Rules: highest cart value (inclusive).
    pub const CART_VALUE_MAX: &str = "cartValueMax";
    /// Rules: segment the visitor must belong to.
    pub const SEGMENT: &str = "segment";
    /// Rules: days before a closed widget shows again (0: next eligible page).
    pub const AFTER_CLOSE_DAYS: &str = "afterCloseDays";
    /// Rules: days before a submitted widget shows again; absent or null: never again.
    pub const AFTER_SUBMIT_DAYS: &str = "afterSubmitDays";
    /// Rules: at most once per visitor session.
    pub const ONCE_PER_SESSION: &str = "oncePerSession";
    /// The web-push section.
    pub const PUSH: &str = "push";
    /// Push: whether web push is offered.
    pub const ENABLED: &str = "enabled";
    /// Push: the VAPID public key (filled in by the collector when serving).
    pub const VAPID_PUBLIC_KEY: &str = "vapidPublicKey";
}

/// `POST /v1/subscribe`: a subscription form's submission, and what it produces.
pub mod subscribe {
    /// Request field: the widget submitted.
    pub const WIDGET_ID: &str = "widgetId";
    /// Request field: the variant shown, if the widget is under test.
    pub const VARIANT: &str = "variant";
    /// Request field: the visitor's anonymous ID (empty without consent to tracking).
    pub const ANONYMOUS_ID: &str = "anonymousId";
    /// Request field: the values typed, by field name.
    pub const FIELDS: &str = "fields";
    /// Request field: whether the consent checkbox was ticked.
    pub const CONSENT: &str = "consent";
    /// Request field: the public write key.
    pub const WRITE_KEY: &str = "writeKey";
    /// Event recorded for a double opt-in submission; the platform's mailer sends the
    /// confirmation email on it. Properties: `widget_id`, `email`, `consent_text_hash`.
    pub const CONFIRMATION_REQUESTED: &str = "Subscription Confirmation Requested";
    /// Status of a double opt-in subscription until it is confirmed.
    pub const STATUS_PENDING: &str = "pending";
    /// Status of a confirmed (or single opt-in) subscription.
    pub const STATUS_SUBSCRIBED: &str = "subscribed";
}

/// `GET /v1/visitor?writeKey=...&anonymousId=...`: what the visitor's profile says for the
/// widgets' targeting (a profile-summary stand-in until the platform has real segments).
pub mod visitor {
    /// Answer field: the segments the visitor belongs to (names below).
    pub const SEGMENTS: &str = "segments";
    /// Answer field: the value of the visitor's open cart (`null` without one).
    pub const CART_VALUE: &str = "cartValue";
    /// Segment: placed at least one order.
    pub const CUSTOMER: &str = "customer";
    /// Segment: placed two orders or more.
    pub const REPEAT_CUSTOMER: &str = "repeat_customer";
    /// Segment: has products in the cart and no order since.
    pub const OPEN_CART: &str = "open_cart";
    /// Segment: viewed three products or more, never ordered.
    pub const BROWSER: &str = "browser";
}

/// Whether `path` matches `pattern`, where `*` stands for any run of characters and everything
/// else must match exactly: `/p/*` matches every product page, `/cart` only the cart. The stub
/// (`tracker-wasm/js/orbita.js`) mirrors this to decide whether to load the widgets at all.
pub fn url_matches(pattern: &str, path: &str) -> bool {
    // Byte-wise, with no slicing that could panic: the browser modules must not pull in
    // core::fmt's panic messages (or the Two-Way string searcher) for this.
    let mut parts = pattern.split('*').map(str::as_bytes);
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = path.as_bytes().strip_prefix(first) else {
        return false;
    };
    let mut last: Option<&[u8]> = None;
    for part in parts {
        if let Some(middle) = last.replace(part) {
            match find(rest, middle) {
                Some(after) => rest = after,
                None => return false,
            }
        }
    }
    match last {
        None => rest.is_empty(),
        Some(last) => rest.ends_with(last),
    }
}

/// What follows the first occurrence of `needle` in `haystack`.
fn find<'a>(haystack: &'a [u8], needle: &[u8]) -> Option<&'a [u8]> {
    let mut rest = haystack;
    loop {
        if let Some(after) = rest.strip_prefix(needle) {
            return Some(after);
        }
        rest = rest.split_first()?.1;
    }
}

/// Whether a page's path passes a widget's include and exclude lists.
pub fn url_allowed<'a>(
    include: impl IntoIterator<Item = &'a str>,
    exclude: impl IntoIterator<Item = &'a str>,
    path: &str,
) -> bool {
    let mut include = include.into_iter().peekable();
    let included = include.peek().is_none() || include.any(|p| url_matches(p, path));
    included && !exclude.into_iter().any(|p| url_matches(p, path))
}

#[cfg(feature = "validate")]
pub use typed::*;

#[cfg(feature = "validate")]
mod typed {
    use super::fields as f;
    use super::*;
    use alloc::collections::BTreeMap;
    use alloc::format;
    use alloc::string::{String, ToString};
    use alloc::vec::Vec;
    use serde::Serialize;
    use serde_json::{Map, Value};

    /// The kinds of widget.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
    #[serde(rename_all = "lowercase")]
    pub enum WidgetKind {
        /// A modal dialog.
        Popup,
        /// A box in a corner of the window.
        Floating,
        /// A bar across the top or bottom of the window.
        Bar,
        /// A form inside the page, in a `[data-orbita-widget="id"]` placeholder.
        Embedded,
        /// The web-push opt-in prompt.
        Push,
    }

    /// A form field's type.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
    #[serde(rename_all = "lowercase")]
    pub enum FieldType {
        /// An email address (the contact's email).
        Email,
        /// A phone number (the contact's phone).
        Phone,
        /// The contact's name.
        Name,
        /// A custom text field, stored with the subscription.
        Text,
    }

    /// One form field.
    #[derive(Debug, Clone, PartialEq, Serialize)]
    pub struct Field {
        /// Name, as submitted (`email`, `firstName`, `shoeSize`, ...).
        pub name: String,
        /// Type.
        #[serde(rename = "type")]
        pub kind: FieldType,
        /// Visible label.
        pub label: String,
        /// Whether it must be filled in.
        pub required: bool,
    }

    /// When and to whom a widget shows, and how often.
    #[derive(Debug, Clone, PartialEq, Serialize)]
    #[serde(rename_all = "camelCase")]
    pub struct Rules {
        /// `immediate`, `delay`, `scroll`, `pages`, `idle`, `exit` or `js`.
        pub trigger: String,
        /// Seconds (delay, idle), percent (scroll) or pages (pages).
        pub trigger_value: u32,
        /// Path patterns the widget shows on; empty: everywhere.
        pub url_include: Vec<String>,
        /// Path patterns the widget never shows on.
        pub url_exclude: Vec<String>,
        /// `any`, `desktop` or `mobile`.
        pub device: String,
        /// `any`, `new` or `returning`.
        pub visitor: String,
        /// Lowest cart value.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub cart_value_min: Option<f64>,
        /// Highest cart value.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub cart_value_max: Option<f64>,
        /// Segment the visitor must belong to.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub segment: Option<String>,
        /// Days before a closed widget shows again.
        pub after_close_days: u32,
        /// Days before a submitted widget shows again; `None`: never.
        pub after_submit_days: Option<u32>,
        /// At most once per session.
        pub once_per_session: bool,
    }

    /// An A/B variant of a widget: its share of traffic and what it changes.
    #[derive(Debug, Clone, PartialEq, Serialize)]
    pub struct Variant {
        /// Name, reported with the widget's events.
        pub name: String,
        /// Share of traffic.
        pub weight: u32,
        /// Texts replacing the widget's.
        pub texts: BTreeMap<String, String>,
        /// Style values replacing the widget's.
        pub style: BTreeMap<String, String>,
    }

    /// One widget.
    #[derive(Debug, Clone, PartialEq, Serialize)]
    #[serde(rename_all = "camelCase")]
    pub struct Widget {
        /// ID, unique in the site.
        pub id: String,
        /// Kind.
        pub kind: WidgetKind,
        /// Placement of a floating box or bar.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub position: Option<String>,
        /// Whether submissions need confirming by email.
        pub double_opt_in: bool,
        /// Display rules.
        pub rules: Rules,
        /// Texts by key (`title`, `body`, `button`, `success`, `consent`, `close`).
        pub texts: BTreeMap<String, String>,
        /// Form fields.
        pub fields: Vec<Field>,
        /// CSS custom properties.
        pub style: BTreeMap<String, String>,
        /// A/B variants (empty: not under test).
        pub variants: Vec<Variant>,
    }

    impl Widget {
        /// The consent text a visitor agreed to, for this variant (the widget's if the
        /// variant does not change it).
        pub fn consent_text(&self, variant: Option<&str>) -> Option<&str> {
            variant
                .and_then(|name| self.variants.iter().find(|v| v.name == name))
                .and_then(|v| v.texts.get(f::CONSENT))
                .or_else(|| self.texts.get(f::CONSENT))
                .map(String::as_str)
        }
    }

    /// The web-push section.
    #[derive(Debug, Clone, PartialEq, Serialize, Default)]
    #[serde(rename_all = "camelCase")]
    pub struct Push {
        /// Whether push is offered.
        pub enabled: bool,
        /// Filled in by the collector from its `VAPID_PUBLIC_KEY` when serving.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub vapid_public_key: Option<String>,
    }

    /// The whole configuration of a site.
    #[derive(Debug, Clone, PartialEq, Serialize)]
    #[serde(rename_all = "camelCase")]
    pub struct SiteConfig {
        /// Pause between two widgets for one visitor.
        pub silent_interval_seconds: u32,
        /// Widgets.
        pub widgets: Vec<Widget>,
        /// Web push.
        pub push: Push,
    }

    impl Default for SiteConfig {
        fn default() -> Self {
            SiteConfig {
                silent_interval_seconds: DEFAULT_SILENT_INTERVAL_SECONDS,
                widgets: Vec::new(),
                push: Push::default(),
            }
        }
    }

    /// Why a configuration was refused: the JSON path of the bad value and what is wrong.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct ConfigError {
        /// Where, e.g. `widgets[1].rules.triggerValue`.
        pub path: String,
        /// What is wrong, for a person.
        pub reason: String,
    }

    type Res<T> = Result<T, ConfigError>;

    fn bad<T>(path: &str, reason: impl Into<String>) -> Res<T> {
        Err(ConfigError {
            path: path.into(),
            reason: reason.into(),
        })
    }

    fn object<'a>(value: &'a Value, path: &str) -> Res<&'a Map<String, Value>> {
        value
            .as_object()
            .map_or_else(|| bad(path, "must be an object"), Ok)
    }

    /// Refuses keys the schema does not know, so a typo is an error rather than ignored.
    fn known_keys(map: &Map<String, Value>, path: &str, known: &[&str]) -> Res<()> {
        match map.keys().find(|k| !known.contains(&k.as_str())) {
            Some(k) => bad(
                &join(path, k),
                format!("unknown field; expected one of: {}", known.join(", ")),
            ),
            None => Ok(()),
        }
    }

    fn join(path: &str, key: &str) -> String {
        if path.is_empty() {
            key.into()
        } else {
            format!("{path}.{key}")
        }
    }

    fn present<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
        map.get(key).filter(|v| !v.is_null())
    }

    fn text(map: &Map<String, Value>, key: &str, path: &str, max: usize) -> Res<Option<String>> {
        let path = join(path, key);
        match present(map, key) {
            None => Ok(None),
            Some(Value::String(s)) if s.chars().count() > max => {
                bad(&path, format!("longer than {max} characters"))
            }
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => bad(&path, "must be a string"),
        }
    }

    fn uint(map: &Map<String, Value>, key: &str, path: &str, max: u32) -> Res<Option<u32>> {
        let path = join(path, key);
        match present(map, key) {
            None => Ok(None),
            Some(v) => match v.as_u64() {
                Some(n) if n <= u64::from(max) => Ok(Some(n as u32)),
                _ => bad(&path, format!("must be a whole number from 0 to {max}")),
            },
        }
    }

    fn boolean(map: &Map<String, Value>, key: &str, path: &str) -> Res<bool> {
        match present(map, key) {
            None => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(_) => bad(&join(path, key), "must be true or false"),
        }
    }

    fn money(map: &Map<String, Value>, key: &str, path: &str) -> Res<Option<f64>> {
        match present(map, key) {
            None => Ok(None),
            Some(v) => match v.as_f64() {
                Some(n) if n >= 0.0 && n.is_finite() => Ok(Some(n)),
                _ => bad(&join(path, key), "must be a number ≥ 0"),
            },
        }
    }

    fn one_of(
        map: &Map<String, Value>,
        key: &str,
        path: &str,
        allowed: &[&str],
    ) -> Res<Option<String>> {
        match text(map, key, path, 64)? {
            Some(v) if !allowed.contains(&v.as_str()) => bad(
                &join(path, key),
                format!("must be one of: {}", allowed.join(", ")),
            ),
            other => Ok(other),
        }
    }

    fn list<'a>(map: &'a Map<String, Value>, key: &str, path: &str) -> Res<&'a [Value]> {
        match present(map, key) {
            None => Ok(&[]),
            Some(Value::Array(items)) => Ok(items),
            Some(_) => bad(&join(path, key), "must be a list"),
        }
    }

    /// IDs and names: 1–64 letters, digits, `-` and `_`.
    fn identifier(value: &str, path: &str) -> Res<()> {
        let ok = (1..=64).contains(&value.len())
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if ok {
            Ok(())
        } else {
            bad(path, "must be 1-64 letters, digits, '-' or '_'")
        }
    }

    fn texts(map: &Map<String, Value>, path: &str) -> Res<BTreeMap<String, String>> {
        let path = join(path, f::TEXTS);
        let Some(value) = present(map, f::TEXTS) else {
            return Ok(BTreeMap::new());
        };
        let texts = object(value, &path)?;
        known_keys(texts, &path, &f::TEXT_KEYS)?;
        let mut out = BTreeMap::new();
        for key in f::TEXT_KEYS {
            if let Some(t) = text(texts, key, &path, MAX_TEXT_CHARS)? {
                out.insert(key.to_string(), t);
            }
        }
        Ok(out)
    }

    /// CSS custom properties only (`--orbita-*`), with values that cannot end the declaration
    /// or open a rule.
    fn style(map: &Map<String, Value>, path: &str) -> Res<BTreeMap<String, String>> {
        let path = join(path, f::STYLE);
        let Some(value) = present(map, f::STYLE) else {
            return Ok(BTreeMap::new());
        };
        let mut out = BTreeMap::new();
        for (name, value) in object(value, &path)? {
            let at = join(&path, name);
            let name_ok = name.len() <= 64
                && name.strip_prefix("--orbita-").is_some_and(|rest| {
                    !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                });
            if !name_ok {
                return bad(&at, "style keys are CSS custom properties named --orbita-*");
            }
            match value.as_str() {
                Some(v) if v.len() <= 200 && !v.contains([';', '{', '}', '<', '>', '\\']) => {
                    out.insert(name.clone(), v.to_string());
                }
                _ => {
                    return bad(
                        &at,
                        "must be a CSS value (≤ 200 characters, no ; { } < > \\)",
                    )
                }
            }
        }
        Ok(out)
    }

    const TRIGGERS: [&str; 7] = [
        "immediate",
        "delay",
        "scroll",
        "pages",
        "idle",
        "exit",
        "js",
    ];

    fn patterns(map: &Map<String, Value>, key: &str, path: &str) -> Res<Vec<String>> {
        let mut out = Vec::new();
        for (i, item) in list(map, key, path)?.iter().enumerate() {
            let at = format!("{}[{i}]", join(path, key));
            match item.as_str() {
                Some(p) if p.starts_with('/') && p.len() <= 200 => out.push(p.to_string()),
                _ => {
                    return bad(
                        &at,
                        "must be a path pattern starting with '/' (≤ 200 characters)",
                    )
                }
            }
        }
        Ok(out)
    }

    /// A widget's rules; `push` widgets (the web-push prompt) default to the second page of a
    /// visit instead of showing at once.
    fn rules(map: &Map<String, Value>, path: &str, push: bool) -> Res<Rules> {
        let path = join(path, f::RULES);
        let empty = Map::new();
        let rules = match present(map, f::RULES) {
            Some(v) => object(v, &path)?,
            None => &empty,
        };
        known_keys(
            rules,
            &path,
            &[
                f::TRIGGER,
                f::TRIGGER_VALUE,
                f::URL_INCLUDE,
                f::URL_EXCLUDE,
                f::DEVICE,
                f::VISITOR,
                f::CART_VALUE_MIN,
                f::CART_VALUE_MAX,
                f::SEGMENT,
                f::AFTER_CLOSE_DAYS,
                f::AFTER_SUBMIT_DAYS,
                f::ONCE_PER_SESSION,
            ],
        )?;
        let given = one_of(rules, f::TRIGGER, &path, &TRIGGERS)?;
        let default_pages = push && given.is_none();
        let trigger = given.unwrap_or_else(|| if push { "pages" } else { "immediate" }.into());
        let max = match trigger.as_str() {
            "scroll" => 100,
            "pages" => 1000,
            _ => 86_400,
        };
        let trigger_value =
            uint(rules, f::TRIGGER_VALUE, &path, max)?.unwrap_or(if default_pages { 2 } else { 0 });
        if matches!(trigger.as_str(), "scroll" | "pages") && trigger_value == 0 {
            return bad(
                &join(&path, f::TRIGGER_VALUE),
                "a scroll or pages trigger needs a value ≥ 1",
            );
        }
        let cart_value_min = money(rules, f::CART_VALUE_MIN, &path)?;
        let cart_value_max = money(rules, f::CART_VALUE_MAX, &path)?;
        if let (Some(lo), Some(hi)) = (cart_value_min, cart_value_max) {
            if lo > hi {
                return bad(&join(&path, f::CART_VALUE_MAX), "is below cartValueMin");
            }
        }
        let segment = text(rules, f::SEGMENT, &path, 64)?;
        if let Some(s) = &segment {
            identifier(s, &join(&path, f::SEGMENT))?;
        }
        Ok(Rules {
            trigger,
            trigger_value,
            url_include: patterns(rules, f::URL_INCLUDE, &path)?,
            url_exclude: patterns(rules, f::URL_EXCLUDE, &path)?,
            device: one_of(rules, f::DEVICE, &path, &["any", "desktop", "mobile"])?
                .unwrap_or_else(|| "any".into()),
            visitor: one_of(rules, f::VISITOR, &path, &["any", "new", "returning"])?
                .unwrap_or_else(|| "any".into()),
            cart_value_min,
            cart_value_max,
            segment,
            after_close_days: uint(rules, f::AFTER_CLOSE_DAYS, &path, 3650)?
                .unwrap_or(DEFAULT_AFTER_CLOSE_DAYS),
            after_submit_days: uint(rules, f::AFTER_SUBMIT_DAYS, &path, 3650)?,
            once_per_session: boolean(rules, f::ONCE_PER_SESSION, &path)?,
        })
    }

    fn field(value: &Value, path: &str) -> Res<Field> {
        let map = object(value, path)?;
        known_keys(map, path, &[f::NAME, f::TYPE, f::LABEL, f::REQUIRED])?;
        let name = text(map, f::NAME, path, 64)?.unwrap_or_default();
        identifier(&name, &join(path, f::NAME))?;
        let kind = match one_of(map, f::TYPE, path, &["email", "phone", "name", "text"])?.as_deref()
        {
            Some("email") => FieldType::Email,
            Some("phone") => FieldType::Phone,
            Some("name") => FieldType::Name,
            _ => FieldType::Text,
        };
        let label = text(map, f::LABEL, path, 200)?.unwrap_or_default();
        if label.trim().is_empty() {
            return bad(&join(path, f::LABEL), "every field needs a visible label");
        }
        Ok(Field {
            name,
            kind,
            label,
            required: boolean(map, f::REQUIRED, path)?,
        })
    }

    fn variant(value: &Value, path: &str) -> Res<Variant> {
        let map = object(value, path)?;
        known_keys(map, path, &[f::NAME, f::WEIGHT, f::TEXTS, f::STYLE])?;
        let name = text(map, f::NAME, path, 64)?.unwrap_or_default();
        identifier(&name, &join(path, f::NAME))?;
        Ok(Variant {
            name,
            weight: uint(map, f::WEIGHT, path, 10_000)?.unwrap_or(1),
            texts: texts(map, path)?,
            style: style(map, path)?,
        })
    }

    fn widget(value: &Value, path: &str) -> Res<Widget> {
        let map = object(value, path)?;
        known_keys(
            map,
            path,
            &[
                f::ID,
                f::KIND,
                f::POSITION,
                f::DOUBLE_OPT_IN,
                f::RULES,
                f::TEXTS,
                f::FIELDS,
                f::STYLE,
                f::VARIANTS,
            ],
        )?;
        let id = text(map, f::ID, path, 64)?.unwrap_or_default();
        identifier(&id, &join(path, f::ID))?;
        let kinds = ["popup", "floating", "bar", "embedded", "push"];
        let kind = match one_of(map, f::KIND, path, &kinds)?.as_deref() {
            Some("popup") => WidgetKind::Popup,
            Some("floating") => WidgetKind::Floating,
            Some("bar") => WidgetKind::Bar,
            Some("embedded") => WidgetKind::Embedded,
            Some("push") => WidgetKind::Push,
            _ => {
                return bad(
                    &join(path, f::KIND),
                    "is required: popup, floating, bar, embedded or push",
                )
            }
        };
        let positions: &[&str] = match kind {
            WidgetKind::Floating => &["bottom-right", "bottom-left", "top-right", "top-left"],
            WidgetKind::Bar => &["top", "bottom"],
            _ => &[],
        };
        let position = if positions.is_empty() {
            None
        } else {
            Some(
                one_of(map, f::POSITION, path, positions)?
                    .unwrap_or_else(|| positions[0].to_string()),
            )
        };
        let mut fields = Vec::new();
        for (i, item) in list(map, f::FIELDS, path)?.iter().enumerate() {
            let at = format!("{}[{i}]", join(path, f::FIELDS));
            let field = field(item, &at)?;
            if fields.iter().any(|x: &Field| x.name == field.name) {
                return bad(&join(&at, f::NAME), "another field has this name");
            }
            fields.push(field);
        }
        let is_form = !matches!(kind, WidgetKind::Push);
        if is_form
            && !fields
                .iter()
                .any(|x| matches!(x.kind, FieldType::Email | FieldType::Phone))
        {
            return bad(
                &join(path, f::FIELDS),
                "a subscription form needs an email or phone field",
            );
        }
        let mut variants: Vec<Variant> = Vec::new();
        for (i, item) in list(map, f::VARIANTS, path)?.iter().enumerate() {
            let at = format!("{}[{i}]", join(path, f::VARIANTS));
            let v = variant(item, &at)?;
            if variants.iter().any(|x| x.name == v.name) {
                return bad(&join(&at, f::NAME), "another variant has this name");
            }
            variants.push(v);
        }
        if !variants.is_empty() && variants.iter().all(|v| v.weight == 0) {
            return bad(
                &join(path, f::VARIANTS),
                "at least one variant needs a weight > 0",
            );
        }
        Ok(Widget {
            id,
            kind,
            position,
            double_opt_in: boolean(map, f::DOUBLE_OPT_IN, path)?,
            rules: rules(map, path, kind == WidgetKind::Push)?,
            texts: texts(map, path)?,
            fields,
            style: style(map, path)?,
            variants,
        })
    }

    impl SiteConfig {
        /// Parses and validates a configuration document; the error names the bad field's path.
        pub fn from_json(text: &str) -> Result<Self, ConfigError> {
            let value: Value = serde_json::from_str(text).map_err(|e| ConfigError {
                path: String::new(),
                reason: format!("not valid JSON: {e}"),
            })?;
            Self::from_value(&value)
        }

        /// Validates an already parsed document.
        pub fn from_value(value: &Value) -> Result<Self, ConfigError> {
            let map = object(value, "")?;
            known_keys(map, "", &[f::SILENT_INTERVAL, f::WIDGETS, f::PUSH])?;
            let mut widgets: Vec<Widget> = Vec::new();
            let items = list(map, f::WIDGETS, "")?;
            if items.len() > MAX_WIDGETS {
                return bad(f::WIDGETS, format!("at most {MAX_WIDGETS} widgets"));
            }
            for (i, item) in items.iter().enumerate() {
                let at = format!("{}[{i}]", f::WIDGETS);
                let w = widget(item, &at)?;
                if widgets.iter().any(|x| x.id == w.id) {
                    return bad(&join(&at, f::ID), "another widget has this ID");
                }
                widgets.push(w);
            }
            let push = match present(map, f::PUSH) {
                None => Push::default(),
                Some(v) => {
                    let p = object(v, f::PUSH)?;
                    known_keys(p, f::PUSH, &[f::ENABLED])?;
                    Push {
                        enabled: boolean(p, f::ENABLED, f::PUSH)?,
                        vapid_public_key: None,
                    }
                }
            };
            Ok(SiteConfig {
                silent_interval_seconds: uint(map, f::SILENT_INTERVAL, "", 86_400)?
                    .unwrap_or(DEFAULT_SILENT_INTERVAL_SECONDS),
                widgets,
                push,
            })
        }
    }
}

#[cfg(all(test, feature = "validate"))]
mod tests {
    use super::*;
    use alloc::format;

    #[test]
    fn url_patterns_match_as_documented() {
        assert!(url_matches("/cart", "/cart"));
        assert!(!url_matches("/cart", "/cart/x"));
        assert!(url_matches("/p/*", "/p/LL-1001"));
        assert!(!url_matches("/p/*", "/c/lamps"));
        assert!(url_matches("*", "/anything"));
        assert!(url_matches("/c/*/sale", "/c/lamps/sale"));
        assert!(!url_matches("/c/*/sale", "/c/lamps/sales"));
        assert!(url_matches("/a*b*c", "/aXbYc"));
        assert!(!url_matches("/ab*ba", "/aba"), "parts may not overlap");
        assert!(url_allowed([], [], "/x"));
        assert!(url_allowed(["/p/*"], ["/p/LL-1"], "/p/LL-2"));
        assert!(!url_allowed(["/p/*"], ["/p/LL-1"], "/p/LL-1"));
        assert!(!url_allowed(["/p/*"], [], "/"));
    }

    #[test]
    fn a_full_config_parses_with_defaults_filled_in() {
        let config = SiteConfig::from_json(
            r##"{"widgets":[{"id":"welcome","kind":"popup","doubleOptIn":true,
                "rules":{"trigger":"delay","triggerValue":5,"urlInclude":["/p/*"]},
                "texts":{"title":"Hi","consent":"I agree"},
                "fields":[{"name":"email","type":"email","label":"Email","required":true}],
                "style":{"--orbita-accent":"#123"},
                "variants":[{"name":"a","weight":1},{"name":"b","weight":3,"texts":{"consent":"Yes please"}}]},
               {"id":"bar","kind":"bar","fields":[{"name":"phone","type":"phone","label":"Phone"}]}]}"##,
        )
        .unwrap();
        assert_eq!(config.silent_interval_seconds, 180);
        let w = &config.widgets[0];
        assert_eq!(w.rules.after_close_days, 30);
        assert_eq!(w.rules.after_submit_days, None);
        assert_eq!(w.consent_text(Some("b")), Some("Yes please"));
        assert_eq!(w.consent_text(Some("a")), Some("I agree"));
        assert_eq!(config.widgets[1].position.as_deref(), Some("top"));
        let json = serde_json::to_value(&config).unwrap();
        assert_eq!(json["widgets"][0]["rules"]["triggerValue"], 5);
        assert_eq!(json["widgets"][1]["kind"], "bar");
    }

    #[test]
    fn the_push_prompt_defaults_to_the_second_page() {
        let config = SiteConfig::from_json(
            r#"{"push":{"enabled":true},"widgets":[{"id":"p","kind":"push"},
                {"id":"q","kind":"push","rules":{"trigger":"delay","triggerValue":9}},
                {"id":"f","kind":"floating","fields":[{"name":"email","type":"email","label":"Email"}]}]}"#,
        )
        .unwrap();
        let rules = |i: usize| &config.widgets[i].rules;
        assert_eq!(
            (rules(0).trigger.as_str(), rules(0).trigger_value),
            ("pages", 2)
        );
        assert_eq!(
            (rules(1).trigger.as_str(), rules(1).trigger_value),
            ("delay", 9)
        );
        assert_eq!(
            (rules(2).trigger.as_str(), rules(2).trigger_value),
            ("immediate", 0)
        );
    }

    fn error(text: &str) -> ConfigError {
        SiteConfig::from_json(text).unwrap_err()
    }

    #[test]
    fn errors_name_the_path_of_the_bad_field() {
        let email = r#"[{"name":"email","type":"email","label":"Email"}]"#;
        let e = error(&format!(
            r#"{{"widgets":[{{"id":"a","kind":"popup","fields":{email}}},{{"id":"b","kind":"popup","fields":{email},"rules":{{"trigger":"scroll","triggerValue":150}}}}]}}"#
        ));
        assert_eq!(e.path, "widgets[1].rules.triggerValue");
        assert_eq!(
            error(r#"{"widgets":[{"id":"a","kind":"modal"}]}"#).path,
            "widgets[0].kind"
        );
        assert_eq!(
            error(r#"{"widgets":[{"id":"a b","kind":"popup"}]}"#).path,
            "widgets[0].id"
        );
        assert_eq!(
            error(r#"{"silentIntervalSeconds":-1}"#).path,
            "silentIntervalSeconds"
        );
        assert_eq!(
            error(r#"{"widgets":[{"id":"a","kind":"popup","fields":[]}]}"#).path,
            "widgets[0].fields"
        );
        let e = error(&format!(
            r#"{{"widgets":[{{"id":"a","kind":"popup","fields":{email},"style":{{"color":"red"}}}}]}}"#
        ));
        assert_eq!(e.path, "widgets[0].style.color");
        let e = error(&format!(
            r#"{{"widgets":[{{"id":"a","kind":"popup","fields":{email},"style":{{"--orbita-x":"red;}}body{{x:y"}}}}]}}"#
        ));
        assert_eq!(e.path, "widgets[0].style.--orbita-x");
        let e = error(&format!(
            r#"{{"widgets":[{{"id":"a","kind":"popup","fields":{email}}},{{"id":"a","kind":"bar","fields":{email}}}]}}"#
        ));
        assert_eq!(e.path, "widgets[1].id");
        let e = error(&format!(
            r#"{{"widgets":[{{"id":"a","kind":"popup","fields":{email},"rulez":{{}}}}]}}"#
        ));
        assert_eq!(e.path, "widgets[0].rulez");
        assert_eq!(error("[]").path, "");
        assert_eq!(error("{").path, "");
    }

    #[test]
    fn the_demo_shops_configuration_is_valid() {
        let config =
            SiteConfig::from_json(include_str!("../../demo-site/site-config.json")).unwrap();
        assert_eq!(config.widgets.len(), 4);
        assert!(config.push.enabled);
    }
}
