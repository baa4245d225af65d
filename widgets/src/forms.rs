//! Subscription forms: reads the site configuration (field names from `protocol::site_config`,
//! no serde), asks the rule engine ([`crate::rules`]) which widgets target this page and
//! whether a fired trigger may show its widget, picks the A/B variant, keeps the visitor's
//! widget memory and reports `Widget Shown/Closed/Submitted` through the tracker's global
//! function. Watching the page (triggers) and drawing (a modal `<dialog>`, a floating box, a
//! bar, or a form in a `[data-orbita-widget="id"]` placeholder, in a shadow root) is done by
//! `js/browser.js`, which hands a fired trigger and the visitor's answer back to
//! [`crate::answer`]: DOM callbacks wrapped for Rust cost a closure shim each in the wasm and
//! the glue (this module drew the forms itself first and made the widgets 46 KB gzipped).
//!
//! The shop hears `orbita:open`, `orbita:close` and `orbita:submit` (bubbling, composed
//! `CustomEvent`s on the widget's host element, `detail: {widgetId, kind, variant}`) and
//! `orbita:ready` on the document once the triggers are armed. The memory (caps, silent
//! interval, sessions) is kept in `localStorage` only while the tracker's consent state is
//! `granted`, otherwise in memory for the page.

use std::cell::RefCell;

use js_sys::{Array, Date, Function, Object, Reflect};
use protocol::experiment as ab;
use protocol::site_config::fields as f;
use wasm_bindgen::prelude::*;

use crate::rules::{self, Memory, Rules, Trigger, Visit};

#[wasm_bindgen(module = "/js/browser.js")]
extern "C" {
    /// Once the document is parsed, for each `[id, rules]` of `widgets`: arms its trigger (its
    /// `rules`: `delay`, `scroll`, `idle`, `exit`, `js`, or anything else for "now", with
    /// `triggerValue`), or with `now` fires it at once (the page asked), and hands each firing
    /// to [`crate::answer`] (`fire`: `now`, the ID) through the glue at `glue`. Without `now`,
    /// then marks that the triggers are armed: the User Timing mark `orbita:forms` and the
    /// event `orbita:ready` on the document.
    fn start(widgets: &Array, now: bool, glue: &JsValue);
    /// Draws a widget (its configuration object, the variant's or `undefined`) with the
    /// tracker's settings (`endpoint`, `writeKey`) and the visitor's anonymous ID; hands
    /// `close`, `closed` (after a submission), `submit` or `allow` (the push prompt's) to
    /// [`crate::answer`] (`done`, with `[id, variant name]`) through the glue at `glue`. False if
    /// there is nowhere to draw it.
    #[wasm_bindgen(js_name = drawForm)]
    fn draw(
        widget: &JsValue,
        variant: &JsValue,
        settings: &JsValue,
        visitor: &JsValue,
        glue: &JsValue,
    ) -> bool;
    /// What the rules need from the page: `[path, mobile, cartValue, segments]`; the cart
    /// value and segments are the page's own (`window.orbitaWidgetContext =
    /// {cartValue: 84.5, segments: ["vip"]}`) or else the visitor's profile's as fetched on an
    /// earlier page. When a `visitor` ID is given, the profile is fetched anew
    /// (`GET /v1/visitor`) and `[cartValue, segments]` from it (or `null` if it failed or took
    /// over 5 s; a later answer still comes) handed to [`crate::answer`] (`visitor`) through
    /// the glue at `glue`.
    fn page(settings: &JsValue, visitor: &JsValue, stored: bool, glue: &JsValue) -> Array;
    /// The widget memory, in `localStorage` if `stored`, else in the page's memory: read
    /// (`text` undefined) or replaced.
    fn store(stored: bool, text: &JsValue) -> String;
    /// Whether this browser can subscribe to web push at all (Push API and notifications).
    #[wasm_bindgen(js_name = pushApi)]
    fn push_api() -> bool;
}

/// One widget of the configuration: its rules for the engine, the rest as configured.
struct Widget {
    id: String,
    kind: String,
    rules: Rules,
    config: JsValue,
}

/// The page's widget state.
struct Site {
    config: JsValue,
    orbita: Option<Function>,
    silent_interval: u32,
    widgets: Vec<Widget>,
    memory: Memory,
    visit: Visit,
    /// An overlay is on screen: only one at a time.
    open: bool,
    /// The VAPID public key of the site's web push (`push.vapidPublicKey`), if push is on.
    vapid_public_key: Option<String>,
    /// The visitor's profile (`GET /v1/visitor`) was asked for and has not answered yet.
    profile_pending: bool,
    /// Widgets whose trigger fired while the profile was pending (ID, asked by the page): they
    /// are decided when it answers.
    waiting: Vec<(String, bool)>,
}

thread_local! {
    static SITE: RefCell<Option<Site>> = const { RefCell::new(None) };
}

fn get(value: &JsValue, key: &str) -> JsValue {
    Reflect::get(value, &key.into()).unwrap_or(JsValue::UNDEFINED)
}

fn get_text(value: &JsValue, key: &str) -> String {
    get(value, key).as_string().unwrap_or_default()
}

fn get_u32(value: &JsValue, key: &str) -> Option<u32> {
    get(value, key)
        .as_f64()
        .filter(|n| *n >= 0.0)
        .map(|n| n as u32)
}

fn list(value: &JsValue, key: &str) -> Array {
    get(value, key).dyn_into::<Array>().unwrap_or_default()
}

fn strings(value: &JsValue, key: &str) -> Vec<String> {
    list(value, key)
        .iter()
        .filter_map(|v| v.as_string())
        .collect()
}

/// A widget's rules. The web-push prompt shows by default from the second page of a visit and
/// backs off 3, then 7, then 30 days after each "not now".
fn parse_rules(r: &JsValue, push: bool) -> Rules {
    let trigger = get_text(r, f::TRIGGER);
    Rules {
        trigger: if push && trigger.is_empty() {
            Trigger::Pages(2)
        } else {
            Trigger::parse(&trigger, get_u32(r, f::TRIGGER_VALUE).unwrap_or(0))
        },
        progressive_backoff: push,
        url_include: strings(r, f::URL_INCLUDE),
        url_exclude: strings(r, f::URL_EXCLUDE),
        device: get_text(r, f::DEVICE),
        visitor: get_text(r, f::VISITOR),
        cart_value_min: get(r, f::CART_VALUE_MIN).as_f64(),
        cart_value_max: get(r, f::CART_VALUE_MAX).as_f64(),
        segment: get(r, f::SEGMENT).as_string(),
        after_close_days: get_u32(r, f::AFTER_CLOSE_DAYS)
            .unwrap_or(protocol::site_config::DEFAULT_AFTER_CLOSE_DAYS),
        after_submit_days: get_u32(r, f::AFTER_SUBMIT_DAYS),
        once_per_session: get(r, f::ONCE_PER_SESSION).as_bool() == Some(true),
    }
}

/// Calls one of the tracker's functions hung on the global function (`orbita.consentState()`).
fn tracker_call(orbita: &Option<Function>, name: &str) -> JsValue {
    orbita
        .as_ref()
        .and_then(|o| get(o, name).dyn_into::<Function>().ok())
        .and_then(|fun| fun.call0(&JsValue::NULL).ok())
        .unwrap_or_default()
}

impl Site {
    /// Storage is allowed while the visitor's consent to tracking is granted.
    fn stored(&self) -> bool {
        tracker_call(&self.orbita, "consentState")
            .as_string()
            .as_deref()
            == Some("granted")
    }

    /// Re-reads the memory (another tab may have shown or closed a widget).
    fn reload(&mut self) {
        let text = store(self.stored(), &JsValue::UNDEFINED);
        if !text.is_empty() {
            self.memory = Memory::decode(&text);
        }
    }

    fn save(&self) {
        store(self.stored(), &self.memory.encode().into());
    }

    fn track(&self, event: &str, id: &str, variant: &JsValue) {
        let (Some(orbita), Some(widget)) = (&self.orbita, self.widgets.iter().find(|w| w.id == id))
        else {
            return;
        };
        let props = Object::new();
        let _ = Reflect::set(&props, &ab::WIDGET_ID.into(), &id.into());
        let _ = Reflect::set(
            &props,
            &ab::WIDGET_KIND.into(),
            &widget.kind.as_str().into(),
        );
        if variant.is_string() {
            let _ = Reflect::set(&props, &ab::VARIANT.into(), variant);
        }
        let _ = orbita.call3(&JsValue::NULL, &"track".into(), &event.into(), &props);
    }
}

/// Starts the widgets of the site configuration on this page. `config` is the tracker's
/// settings (`endpoint`, `writeKey`), `orbita` the tracker's global function, `site` the
/// answer of `GET /v1/site-config`.
#[wasm_bindgen]
pub fn forms(config: JsValue, orbita: JsValue, site: JsValue) {
    let push = get(&site, f::PUSH);
    let vapid_public_key = get(&push, f::VAPID_PUBLIC_KEY)
        .as_string()
        .filter(|_| get(&push, f::ENABLED).as_bool() == Some(true));
    let widgets: Vec<Widget> = list(&site, f::WIDGETS)
        .iter()
        .map(|w| {
            let kind = get_text(&w, f::KIND);
            Widget {
                id: get_text(&w, f::ID),
                rules: parse_rules(&get(&w, f::RULES), kind == "push"),
                kind,
                config: w,
            }
        })
        // The push prompt only where push is configured and the browser has the Push API.
        .filter(|w| {
            !w.id.is_empty() && (w.kind != "push" || (vapid_public_key.is_some() && push_api()))
        })
        .collect();
    let mut state = Site {
        config,
        orbita: orbita.dyn_into::<Function>().ok(),
        silent_interval: get_u32(&site, f::SILENT_INTERVAL)
            .unwrap_or(protocol::site_config::DEFAULT_SILENT_INTERVAL_SECONDS),
        widgets,
        memory: Memory::default(),
        visit: Visit::default(),
        open: false,
        vapid_public_key,
        profile_pending: false,
        waiting: Vec::new(),
    };
    state.reload();
    let returning = state.memory.begin_page(Date::now());
    state.save();
    // The profile is asked only when a widget targets a cart value or a segment.
    let profile = state.widgets.iter().any(|w| {
        let r = &w.rules;
        r.segment.is_some() || r.cart_value_min.is_some() || r.cart_value_max.is_some()
    });
    let visitor = if profile {
        tracker_call(&state.orbita, "anonymousId")
    } else {
        JsValue::UNDEFINED
    };
    state.profile_pending = profile;
    let page = page(&state.config, &visitor, state.stored(), &crate::glue());
    state.visit = Visit {
        path: page.get(0).as_string().unwrap_or_default(),
        mobile: page.get(1).is_truthy(),
        returning,
        pages: state.memory.pages,
        ..Visit::default()
    };
    profile_from(&mut state.visit, &page, 2);
    // Pages are counted here: that trigger fires as soon as enough pages were seen.
    let armed: Array = state
        .widgets
        .iter()
        .filter(|w| {
            if state.profile_pending {
                rules::targets_before_profile(&w.rules, &state.visit)
            } else {
                rules::targets(&w.rules, &state.visit)
            }
        })
        .filter(|w| !matches!(w.rules.trigger, Trigger::Pages(n) if state.visit.pages < n))
        .map(|w| Array::of2(&w.id.as_str().into(), &get(&w.config, f::RULES)))
        .collect();
    SITE.with(|s| {
        if let Ok(mut s) = s.try_borrow_mut() {
            *s = Some(state);
        }
    });
    start(&armed, false, &crate::glue());
}

/// Shows a widget now, because the page asked (`orbita('showWidget', id)`): the trigger and
/// the frequency caps are skipped, the targeting still applies.
#[wasm_bindgen]
pub fn show(id: JsValue) {
    let widget = Array::of2(&id, &JsValue::UNDEFINED);
    start(&Array::of1(&widget), true, &crate::glue());
}

/// A trigger fired (or the page asked): shows the widget if the rules allow it.
pub(crate) fn fire(id: &str, explicit: bool) {
    let chosen = SITE.with(|s| {
        let mut s = s.try_borrow_mut().ok()?;
        let site = s.as_mut()?;
        let widget = site.widgets.iter().find(|w| w.id == id)?;
        if site.profile_pending && widget.rules.needs_profile() {
            site.waiting.push((id.to_string(), explicit));
            return None;
        }
        let interrupts = widget.kind != "embedded";
        if !rules::targets(&widget.rules, &site.visit) || (interrupts && site.open) {
            return None;
        }
        let (rules, config) = (widget.rules.clone(), widget.config.clone());
        let now = Date::now();
        site.reload();
        if !explicit
            && !site
                .memory
                .allows(id, &rules, now, site.silent_interval, interrupts)
        {
            return None;
        }
        let variants = list(&config, f::VARIANTS);
        let weights: Vec<u32> = variants
            .iter()
            .map(|v| get_u32(&v, f::WEIGHT).unwrap_or(1))
            .collect();
        let visitor = tracker_call(&site.orbita, "anonymousId");
        let variant = ab::pick(&visitor.as_string().unwrap_or_default(), id, &weights)
            .map_or(JsValue::UNDEFINED, |i| variants.get(i as u32));
        Some((
            config,
            variant,
            site.config.clone(),
            visitor,
            interrupts,
            now,
        ))
    });
    let Some((config, variant, settings, visitor, interrupts, now)) = chosen else {
        return;
    };
    if !draw(&config, &variant, &settings, &visitor, &crate::glue()) {
        return;
    }
    SITE.with(|s| {
        if let Some(site) = s.try_borrow_mut().ok().as_mut().and_then(|s| s.as_mut()) {
            site.memory.shown(id, now, interrupts);
            site.save();
            site.open |= interrupts;
            site.track(ab::WIDGET_SHOWN, id, &get(&variant, f::NAME));
        }
    });
}

/// Sets the visit's cart value and segments from `list[at]` and `list[at + 1]`.
fn profile_from(visit: &mut Visit, list: &Array, at: u32) {
    visit.cart_value = list.get(at).as_f64();
    visit.segments = Array::from(&list.get(at + 1))
        .iter()
        .filter_map(|v| v.as_string())
        .collect();
}

/// The visitor's profile answered (`[cartValue, segments]`), or failed to (`null`: what an
/// earlier page fetched stays): the widgets whose trigger fired meanwhile are decided now, so a
/// segment or cart value counts on the page after it changed, not one page later.
pub(crate) fn profile_arrived(answer: &JsValue) {
    let waiting = SITE.with(|s| {
        let mut s = s.try_borrow_mut().ok()?;
        let site = s.as_mut()?;
        if let Some(fresh) = answer.dyn_ref::<Array>() {
            profile_from(&mut site.visit, fresh, 0);
        }
        site.profile_pending = false;
        Some(std::mem::take(&mut site.waiting))
    });
    for (id, explicit) in waiting.unwrap_or_default() {
        fire(&id, explicit);
    }
}

/// The visitor closed (`close`: without submitting; `closed`: after), submitted, or allowed
/// (the push prompt's `allow`: the browser's own prompt follows, from this click) a widget.
pub(crate) fn done(id: &str, what: &str, variant: &JsValue) {
    let push = SITE.with(|s| {
        let Ok(mut s) = s.try_borrow_mut() else {
            return None;
        };
        let site = s.as_mut()?;
        let interrupts = site
            .widgets
            .iter()
            .any(|w| w.id == id && w.kind != "embedded");
        site.reload();
        let now = Date::now();
        let mut push = None;
        match what {
            "submit" => {
                site.memory.update(id, |s| s.submitted = now);
                site.track(ab::WIDGET_SUBMITTED, id, variant);
            }
            "close" => {
                site.memory.update(id, |s| {
                    s.closed = now;
                    s.dismissals += 1;
                });
                site.track(ab::WIDGET_CLOSED, id, variant);
            }
            "allow" => {
                let key = site.vapid_public_key.clone()?;
                let orbita = site
                    .orbita
                    .clone()
                    .map_or(JsValue::UNDEFINED, JsValue::from);
                push = Some((site.config.clone(), key, orbita));
            }
            _ => {}
        }
        if what != "submit" && interrupts {
            site.open = false;
        }
        site.save();
        push
    });
    // Subscribing runs outside the borrow: its outcome comes back here (`submit` if
    // subscribed, else `close`: a "not now" for the back-off).
    if let Some((settings, key, orbita)) = push {
        let widget = Array::of2(&id.into(), variant);
        let _ = crate::push::start(
            &get_text(&settings, "endpoint"),
            &get_text(&settings, "writeKey"),
            &key,
            &orbita,
            &widget,
        );
    }
}

#[cfg(test)]
mod tests {
    use protocol::site_config::{fields as f, subscribe as sub};

    /// Whether `needle` occurs in `js` as a whole name (not followed by more of a name).
    fn has(js: &str, needle: &str) -> bool {
        let open_ended = needle.ends_with(|c: char| c.is_ascii_alphanumeric());
        js.match_indices(needle).any(|(at, _)| {
            !open_ended
                || js[at + needle.len()..]
                    .chars()
                    .next()
                    .is_none_or(|c| !c.is_ascii_alphanumeric())
        })
    }

    /// `js/browser.js` reads the configuration and writes the submission by the names
    /// `protocol` defines; renaming one there must fail here until the drawing module follows.
    #[test]
    fn the_drawing_module_uses_the_protocols_names() {
        let js = &include_str!("../js/browser.js");
        let js = |needle: String| has(js, &needle);
        let read = [
            f::TEXTS,
            f::STYLE,
            f::POSITION,
            f::KIND,
            f::ID,
            f::FIELDS,
            f::NAME,
            f::TYPE,
            f::REQUIRED,
            f::LABEL,
            f::TRIGGER,
            f::TRIGGER_VALUE,
        ];
        for name in read {
            assert!(js(format!(".{name}")), "browser.js reads `{name}`");
        }
        for text in f::TEXT_KEYS {
            assert!(js(format!("t('{text}'")), "browser.js shows `{text}`");
        }
        for key in [sub::WRITE_KEY, sub::WIDGET_ID, sub::FIELDS, sub::CONSENT] {
            assert!(js(format!("{key}: ")), "browser.js sends `{key}`");
        }
        for key in [sub::VARIANT, sub::ANONYMOUS_ID] {
            assert!(js(format!("body.{key} = ")), "browser.js sends `{key}`");
        }
    }
}
