//! Subscription forms in the browser: reads the site configuration (field names from
//! `protocol::site_config`, no serde), arms each widget's trigger, asks the rule engine
//! ([`crate::rules`]) whether it may show, and draws it in a shadow root: a modal `<dialog>`
//! (popup), a box in a corner (floating), a bar (top or bottom) or a form inside a
//! `[data-orbita-widget="id"]` placeholder (embedded).
//!
//! The shop hears `orbita:open`, `orbita:close` and `orbita:submit` (bubbling, composed
//! `CustomEvent`s on the widget's host element, `detail: {widgetId, kind, variant}`); the
//! collector hears `Widget Shown/Closed/Submitted` through the tracker's global function. The
//! visitor's widget memory (caps, silent interval, sessions) is kept in `localStorage` only
//! while the tracker's consent state is `granted`, otherwise in memory for the page.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use js_sys::{Array, Date, Function, Object, Reflect};
use protocol::experiment as ab;
use protocol::site_config::{fields as f, subscribe as sub};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    CustomEvent, CustomEventInit, Document, Element, HtmlDialogElement, HtmlElement,
    HtmlInputElement, KeyboardEvent, MouseEvent, RequestInit, Response, ShadowRoot,
    ShadowRootInit, ShadowRootMode,
};

use crate::rules::{self, Memory, Rules, Trigger, Visit};

/// Where the widget memory is kept when storage is allowed.
const STORE_KEY: &str = "orbita_widgets";
/// The page tells the widgets what only it knows: `window.orbitaWidgetContext =
/// {cartValue: 84.5, segments: ["vip"]}`.
const CONTEXT: &str = "orbitaWidgetContext";

const STYLE: &str = "\
:host{all:initial}\
.w{box-sizing:border-box;position:relative;font:var(--orbita-font,15px/1.45 system-ui,sans-serif);\
color:var(--orbita-text,#1f1d1a);background:var(--orbita-bg,#fff);border-radius:var(--orbita-radius,12px);padding:20px 22px}\
dialog.w{border:0;width:min(420px,calc(100vw - 32px));box-shadow:0 20px 60px rgba(0,0,0,.3)}\
dialog::backdrop{background:rgba(20,18,15,.5)}\
.floating{position:fixed;z-index:2147483000;width:min(340px,calc(100vw - 32px));box-shadow:0 10px 40px rgba(0,0,0,.25)}\
.bottom-right{right:16px;bottom:16px}.bottom-left{left:16px;bottom:16px}.top-right{right:16px;top:16px}.top-left{left:16px;top:16px}\
.bar{position:fixed;z-index:2147483000;left:0;right:0;border-radius:0;padding:10px 52px 10px 16px;box-shadow:0 2px 16px rgba(0,0,0,.2)}\
.bar.top{top:0}.bar.bottom{bottom:0}\
.bar form,.bar .head{display:inline-flex;flex-wrap:wrap;align-items:end;gap:4px 12px;vertical-align:middle}\
.bar h2{font-size:1em;margin:0}.bar p{margin:0}.bar .f{margin:0}\
.embedded{border:1px solid var(--orbita-border,#d8d2c6)}\
h2{margin:0 0 6px;font-size:1.25em;line-height:1.3;padding-right:28px}\
p{margin:0 0 8px}\
.f{margin:10px 0 0}\
label{display:block;font-weight:600;margin:0 0 4px;font-size:.9em}\
input:not([type=checkbox]){box-sizing:border-box;width:100%;min-width:180px;padding:9px 10px;border:1px solid var(--orbita-input-border,#767068);\
border-radius:6px;font:inherit;color:inherit;background:#fff}\
input[aria-invalid=true]{border-color:var(--orbita-error,#b3261e);border-width:2px}\
.err{color:var(--orbita-error,#b3261e);font-size:.85em;margin:4px 0 0}.err:empty{display:none}\
.c{display:flex;gap:8px;align-items:flex-start;margin-top:12px}.c label{font-weight:400;margin:0}\
.c input{width:20px;height:20px;margin:2px 0 0;flex:none}\
.submit{margin-top:14px;background:var(--orbita-accent,#2f5d50);color:var(--orbita-accent-text,#fff);border:0;\
border-radius:6px;padding:10px 18px;min-height:40px;font:inherit;font-weight:600;cursor:pointer}\
.x{position:absolute;top:8px;right:8px;width:32px;height:32px;border:0;border-radius:6px;background:transparent;\
color:inherit;font:22px/1 system-ui,sans-serif;cursor:pointer}\
:focus-visible{outline:3px solid var(--orbita-focus,#1a5fd0);outline-offset:2px}\
.done{font-weight:600}\
@media (prefers-reduced-motion:no-preference){.floating,.bar,dialog.w{animation:in .2s ease-out}}\
@keyframes in{from{opacity:0;transform:translateY(8px)}}\
[hidden]{display:none!important}";

/// One form field.
struct Field {
    name: String,
    kind: String,
    label: String,
    required: bool,
}

/// One A/B variant.
struct Variant {
    name: String,
    weight: u32,
    texts: JsValue,
    style: JsValue,
}

/// One widget of the configuration.
struct Widget {
    id: String,
    kind: String,
    position: String,
    rules: Rules,
    texts: JsValue,
    fields: Vec<Field>,
    style: JsValue,
    variants: Vec<Variant>,
}

impl Widget {
    /// Overlays interrupt the visit (and obey the silent interval); embedded forms do not.
    fn interrupts(&self) -> bool {
        self.kind != "embedded"
    }
}

/// The page's widget state.
struct Site {
    endpoint: String,
    write_key: String,
    orbita: Option<Function>,
    silent_interval: u32,
    widgets: Vec<Rc<Widget>>,
    memory: Memory,
    visit: Visit,
    /// An overlay is on screen: only one at a time.
    open: bool,
}

thread_local! {
    static SITE: RefCell<Option<Site>> = const { RefCell::new(None) };
    /// The memory when storage is not allowed (lives as long as the page).
    static VOLATILE: RefCell<String> = const { RefCell::new(String::new()) };
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
    list(value, key).iter().filter_map(|v| v.as_string()).collect()
}

fn window() -> web_sys::Window {
    web_sys::window().expect("a window")
}

fn document() -> Document {
    window().document().expect("a document")
}

fn parse_widget(w: &JsValue) -> Widget {
    let r = get(w, f::RULES);
    let rules = Rules {
        trigger: Trigger::parse(
            &get_text(&r, f::TRIGGER),
            get_u32(&r, f::TRIGGER_VALUE).unwrap_or(0),
        ),
        url_include: strings(&r, f::URL_INCLUDE),
        url_exclude: strings(&r, f::URL_EXCLUDE),
        device: get_text(&r, f::DEVICE),
        visitor: get_text(&r, f::VISITOR),
        cart_value_min: get(&r, f::CART_VALUE_MIN).as_f64(),
        cart_value_max: get(&r, f::CART_VALUE_MAX).as_f64(),
        segment: get(&r, f::SEGMENT).as_string(),
        after_close_days: get_u32(&r, f::AFTER_CLOSE_DAYS)
            .unwrap_or(protocol::site_config::DEFAULT_AFTER_CLOSE_DAYS),
        after_submit_days: get_u32(&r, f::AFTER_SUBMIT_DAYS),
        once_per_session: get(&r, f::ONCE_PER_SESSION).as_bool() == Some(true),
    };
    Widget {
        id: get_text(w, f::ID),
        kind: get_text(w, f::KIND),
        position: get_text(w, f::POSITION),
        rules,
        texts: get(w, f::TEXTS),
        fields: list(w, f::FIELDS)
            .iter()
            .map(|x| Field {
                name: get_text(&x, f::NAME),
                kind: get_text(&x, f::TYPE),
                label: get_text(&x, f::LABEL),
                required: get(&x, f::REQUIRED).as_bool() == Some(true),
            })
            .collect(),
        style: get(w, f::STYLE),
        variants: list(w, f::VARIANTS)
            .iter()
            .map(|v| Variant {
                name: get_text(&v, f::NAME),
                weight: get_u32(&v, f::WEIGHT).unwrap_or(1),
                texts: get(&v, f::TEXTS),
                style: get(&v, f::STYLE),
            })
            .collect(),
    }
}

/// Calls one of the tracker's functions hung on the global function (`orbita.consentState()`).
fn tracker_call(orbita: &Option<Function>, name: &str) -> String {
    orbita
        .as_ref()
        .and_then(|o| get(o, name).dyn_into::<Function>().ok())
        .and_then(|fun| fun.call0(&JsValue::NULL).ok())
        .and_then(|v| v.as_string())
        .unwrap_or_default()
}

impl Site {
    fn storage(&self) -> Option<web_sys::Storage> {
        (tracker_call(&self.orbita, "consentState") == "granted")
            .then(|| window().local_storage().ok().flatten())
            .flatten()
    }

    /// Re-reads the memory (another tab may have shown or closed a widget).
    fn reload(&mut self) {
        let text = match self.storage() {
            Some(s) => s.get_item(STORE_KEY).ok().flatten().unwrap_or_default(),
            None => VOLATILE.with(|v| v.borrow().clone()),
        };
        if !text.is_empty() {
            self.memory = Memory::decode(&text);
        }
    }

    fn save(&self) {
        let text = self.memory.encode();
        match self.storage() {
            Some(s) => {
                let _ = s.set_item(STORE_KEY, &text);
            }
            None => VOLATILE.with(|v| *v.borrow_mut() = text),
        }
    }

    fn track(&self, event: &str, widget: &Widget, variant: &Option<String>) {
        let Some(orbita) = &self.orbita else { return };
        let props = Object::new();
        let _ = Reflect::set(&props, &ab::WIDGET_ID.into(), &widget.id.as_str().into());
        let _ = Reflect::set(&props, &ab::WIDGET_KIND.into(), &widget.kind.as_str().into());
        if let Some(v) = variant {
            let _ = Reflect::set(&props, &ab::VARIANT.into(), &v.as_str().into());
        }
        let _ = orbita.call3(&JsValue::NULL, &"track".into(), &event.into(), &props);
    }
}

/// Starts the widgets of the site configuration on this page. `config` is the tracker's
/// settings (`endpoint`, `writeKey`), `orbita` the tracker's global function, `site` the
/// answer of `GET /v1/site-config`.
#[wasm_bindgen]
pub fn forms(config: JsValue, orbita: JsValue, site: JsValue) {
    let orbita = orbita.dyn_into::<Function>().ok();
    let widgets: Vec<Rc<Widget>> = list(&site, f::WIDGETS)
        .iter()
        .map(|w| Rc::new(parse_widget(&w)))
        .filter(|w| w.kind != "push" && !w.id.is_empty())
        .collect();
    let mut state = Site {
        endpoint: get_text(&config, "endpoint")
            .trim_end_matches('/')
            .to_string(),
        write_key: get_text(&config, "writeKey"),
        orbita,
        silent_interval: get_u32(&site, f::SILENT_INTERVAL)
            .unwrap_or(protocol::site_config::DEFAULT_SILENT_INTERVAL_SECONDS),
        widgets,
        memory: Memory::default(),
        visit: Visit::default(),
        open: false,
    };
    state.reload();
    let returning = state.memory.begin_page(Date::now());
    state.save();
    let context = get(&window(), CONTEXT);
    let mobile = window()
        .match_media("(max-width: 767px), (pointer: coarse)")
        .ok()
        .flatten()
        .is_some_and(|m| m.matches());
    state.visit = Visit {
        path: window().location().pathname().unwrap_or_default(),
        mobile,
        returning,
        cart_value: get(&context, "cartValue").as_f64(),
        segments: strings(&context, "segments"),
        pages: state.memory.pages,
    };
    let armed: Vec<Rc<Widget>> = state
        .widgets
        .iter()
        .filter(|w| rules::targets(&w.rules, &state.visit))
        .cloned()
        .collect();
    SITE.with(|s| *s.borrow_mut() = Some(state));
    when_ready(move || {
        for widget in armed {
            arm(widget);
        }
        // A User Timing mark, like the tracker's: shops (and tests) see when forms are armed.
        let performance = get(&window(), "performance");
        if let Ok(mark) = get(&performance, "mark").dyn_into::<Function>() {
            let _ = mark.call1(&performance, &"orbita:forms".into());
        }
    });
}

/// Shows a widget now, because the page asked (`orbita('showWidget', id)`): the trigger and
/// the frequency caps are skipped, the targeting still applies.
#[wasm_bindgen]
pub fn show(id: JsValue) {
    let id = id.as_string().unwrap_or_default();
    when_ready(move || fire(&id, true));
}

fn when_ready(f: impl FnOnce() + 'static) {
    let doc = document();
    if doc.ready_state() != "loading" {
        f();
        return;
    }
    let callback = Closure::once_into_js(f);
    let _ = doc.add_event_listener_with_callback("DOMContentLoaded", callback.unchecked_ref());
}

fn after(ms: i32, f: impl FnOnce() + 'static) -> i32 {
    let callback = Closure::once_into_js(f);
    window()
        .set_timeout_with_callback_and_timeout_and_arguments_0(callback.unchecked_ref(), ms)
        .unwrap_or(0)
}

fn listen(target: &web_sys::EventTarget, name: &str, f: impl FnMut(web_sys::Event) + 'static) {
    let callback = Closure::<dyn FnMut(web_sys::Event)>::new(f);
    let options = web_sys::AddEventListenerOptions::new();
    options.set_passive(true);
    let _ = target.add_event_listener_with_callback_and_add_event_listener_options(
        name,
        callback.as_ref().unchecked_ref(),
        &options,
    );
    callback.forget();
}

/// Arms a widget's trigger.
fn arm(widget: Rc<Widget>) {
    let id = widget.id.clone();
    let done = Rc::new(Cell::new(false));
    let once = {
        let done = done.clone();
        move || {
            if !done.replace(true) {
                fire(&id, false);
            }
        }
    };
    match widget.rules.trigger {
        Trigger::Immediate => once(),
        Trigger::Pages(n) => {
            if SITE.with(|s| s.borrow().as_ref().is_some_and(|s| s.visit.pages >= n)) {
                once();
            }
        }
        Trigger::Delay(seconds) => {
            after(seconds.saturating_mul(1000) as i32, once);
        }
        Trigger::Scroll(percent) => {
            let check = move |_| {
                let w = window();
                let y = w.scroll_y().unwrap_or(0.0);
                let view = w.inner_height().ok().and_then(|v| v.as_f64()).unwrap_or(0.0);
                let height = document()
                    .document_element()
                    .map_or(0.0, |e| f64::from(e.scroll_height()));
                if rules::scrolled_percent(y, view, height) >= percent {
                    once();
                }
            };
            check(web_sys::Event::new("check").unwrap());
            if !done.get() {
                listen(&window(), "scroll", check);
            }
        }
        Trigger::Idle(seconds) => {
            let timer = Rc::new(Cell::new(0));
            let once = Rc::new(RefCell::new(Some(once)));
            let restart: Rc<dyn Fn()> = {
                let timer = timer.clone();
                Rc::new(move || {
                    window().clear_timeout_with_handle(timer.get());
                    let once = once.clone();
                    timer.set(after(seconds.saturating_mul(1000) as i32, move || {
                        if let Some(f) = once.borrow_mut().take() {
                            f();
                        }
                    }));
                })
            };
            restart();
            for name in ["mousemove", "keydown", "scroll", "pointerdown", "touchstart"] {
                let restart = restart.clone();
                let done = done.clone();
                listen(&window(), name, move |_| {
                    if !done.get() {
                        restart();
                    }
                });
            }
        }
        Trigger::Exit => {
            listen(&document(), "mouseout", move |e| {
                if let Ok(e) = e.dyn_into::<MouseEvent>() {
                    if e.related_target().is_none() && e.client_y() <= 0 {
                        once();
                    }
                }
            });
        }
        Trigger::Js => {}
    }
}

/// A trigger fired (or the page asked): shows the widget if the rules allow it.
fn fire(id: &str, explicit: bool) {
    let chosen = SITE.with(|s| {
        let mut s = s.borrow_mut();
        let site = s.as_mut()?;
        let widget = site.widgets.iter().find(|w| w.id == id)?.clone();
        if !rules::targets(&widget.rules, &site.visit) {
            return None;
        }
        let interrupts = widget.interrupts();
        if interrupts && site.open {
            return None;
        }
        let now = Date::now();
        site.reload();
        if !explicit
            && !site
                .memory
                .allows(id, &widget.rules, now, site.silent_interval, interrupts)
        {
            return None;
        }
        let weights: Vec<u32> = widget.variants.iter().map(|v| v.weight).collect();
        let visitor = tracker_call(&site.orbita, "anonymousId");
        let variant = ab::pick(&visitor, &widget.id, &weights);
        Some((widget, variant, interrupts, now))
    });
    let Some((widget, variant, interrupts, now)) = chosen else {
        return;
    };
    let host = if interrupts {
        let host = document().create_element("div").ok();
        if let (Some(host), Some(body)) = (&host, document().body()) {
            let _ = host.set_attribute("data-orbita-form", &widget.id);
            let _ = body.append_child(host);
        }
        host
    } else {
        let selector = ["[data-orbita-widget=\"", &widget.id, "\"]"].concat();
        document()
            .query_selector(&selector)
            .ok()
            .flatten()
            .filter(|h| h.shadow_root().is_none())
    };
    let Some(host) = host else { return };
    SITE.with(|s| {
        if let Some(site) = s.borrow_mut().as_mut() {
            site.memory.shown(&widget.id, now, interrupts);
            site.save();
            site.open |= interrupts;
        }
    });
    let variant = variant.and_then(|i| widget.variants.get(i));
    if let Err(e) = draw(&host, widget.clone(), variant) {
        web_sys::console::warn_2(&"orbita: widget not shown:".into(), &e);
    }
}

/// Where a text comes from: the variant's if it has one, else the widget's, else `default`.
fn text_of(widget: &Widget, variant: Option<&Variant>, key: &str, default: &str) -> String {
    variant
        .map(|v| get_text(&v.texts, key))
        .filter(|t| !t.is_empty())
        .or_else(|| Some(get_text(&widget.texts, key)).filter(|t| !t.is_empty()))
        .unwrap_or_else(|| default.into())
}

fn el(doc: &Document, tag: &str, attrs: &[(&str, &str)], text: &str) -> Result<Element, JsValue> {
    let e = doc.create_element(tag)?;
    for (k, v) in attrs {
        e.set_attribute(k, v)?;
    }
    if !text.is_empty() {
        e.set_text_content(Some(text));
    }
    Ok(e)
}

/// Applies `--orbita-*` custom properties from the configuration to the host.
fn apply_style(host: &Element, style: &JsValue) {
    let Some(html) = host.dyn_ref::<HtmlElement>() else {
        return;
    };
    let Some(style_object) = style.dyn_ref::<Object>() else {
        return;
    };
    for key in Object::keys(style_object).iter() {
        let Some(name) = key.as_string().filter(|k| k.starts_with("--orbita-")) else {
            continue;
        };
        let _ = html.style().set_property(&name, &get_text(style, &name));
    }
}

/// What a drawn widget needs to answer the visitor.
struct Drawn {
    widget: Rc<Widget>,
    variant: Option<String>,
    host: Element,
    root: ShadowRoot,
    frame: Element,
    /// Where focus was before a modal opened, to give it back.
    before: Option<HtmlElement>,
    submitted: Cell<bool>,
    closed: Cell<bool>,
}

fn dispatch(drawn: &Drawn, name: &str) {
    let detail = Object::new();
    let _ = Reflect::set(&detail, &"widgetId".into(), &drawn.widget.id.as_str().into());
    let _ = Reflect::set(&detail, &"kind".into(), &drawn.widget.kind.as_str().into());
    let variant = drawn.variant.as_deref().map_or(JsValue::NULL, JsValue::from);
    let _ = Reflect::set(&detail, &"variant".into(), &variant);
    let init = CustomEventInit::new();
    init.set_bubbles(true);
    init.set_composed(true);
    init.set_detail(&detail);
    if let Ok(event) = CustomEvent::new_with_event_init_dict(name, &init) {
        let _ = drawn.host.dispatch_event(&event);
    }
}

fn draw(host: &Element, widget: Rc<Widget>, variant: Option<&Variant>) -> Result<(), JsValue> {
    let doc = document();
    let init = ShadowRootInit::new(ShadowRootMode::Open);
    let root = host.attach_shadow(&init)?;
    apply_style(host, &widget.style);
    if let Some(v) = variant {
        apply_style(host, &v.style);
    }
    root.append_child(el(&doc, "style", &[], STYLE)?.as_ref())?;
    let kind = widget.kind.as_str();
    let t = |key: &str, default: &str| text_of(&widget, variant, key, default);
    let class = ["w ", kind, " ", &widget.position].concat();
    let frame = match kind {
        "popup" => el(&doc, "dialog", &[("class", &class), ("aria-labelledby", "t")], "")?,
        _ => el(&doc, "section", &[("class", &class), ("aria-labelledby", "t")], "")?,
    };
    let head = el(&doc, "div", &[("class", "head")], "")?;
    head.append_child(el(&doc, "h2", &[("id", "t")], &t(f::TITLE, "Stay in touch"))?.as_ref())?;
    let body = t(f::BODY, "");
    if !body.is_empty() {
        head.append_child(el(&doc, "p", &[("id", "d")], &body)?.as_ref())?;
        frame.set_attribute("aria-describedby", "d")?;
    }
    frame.append_child(&head)?;
    let form = el(&doc, "form", &[("novalidate", "")], "")?;
    for field in &widget.fields {
        let wrap = el(&doc, "div", &[("class", "f")], "")?;
        let input_id = ["f-", &field.name].concat();
        let error_id = ["e-", &field.name].concat();
        let label = if field.required {
            [field.label.as_str(), " *"].concat()
        } else {
            field.label.clone()
        };
        wrap.append_child(el(&doc, "label", &[("for", &input_id)], &label)?.as_ref())?;
        let (kind, complete) = match field.kind.as_str() {
            "email" => ("email", "email"),
            "phone" => ("tel", "tel"),
            "name" => ("text", "name"),
            _ => ("text", "off"),
        };
        let input = el(
            &doc,
            "input",
            &[
                ("id", &input_id),
                ("name", &field.name),
                ("type", kind),
                ("autocomplete", complete),
                ("aria-describedby", &error_id),
            ],
            "",
        )?;
        if field.required {
            input.set_attribute("required", "")?;
        }
        wrap.append_child(&input)?;
        wrap.append_child(el(&doc, "p", &[("id", &error_id), ("class", "err")], "")?.as_ref())?;
        form.append_child(&wrap)?;
    }
    let consent = t(f::CONSENT, "");
    if !consent.is_empty() {
        let wrap = el(&doc, "div", &[("class", "c")], "")?;
        wrap.append_child(el(
            &doc,
            "input",
            &[
                ("id", "f-consent"),
                ("name", "consent"),
                ("type", "checkbox"),
                ("required", ""),
                ("aria-describedby", "e-consent"),
            ],
            "",
        )?.as_ref())?;
        wrap.append_child(el(&doc, "label", &[("for", "f-consent")], &consent)?.as_ref())?;
        form.append_child(&wrap)?;
        form.append_child(el(&doc, "p", &[("id", "e-consent"), ("class", "err")], "")?.as_ref())?;
    }
    form.append_child(el(
        &doc,
        "button",
        &[("type", "submit"), ("class", "submit")],
        &t(f::BUTTON, "Subscribe"),
    )?.as_ref())?;
    frame.append_child(&form)?;
    let status = el(&doc, "p", &[("role", "status"), ("class", "done")], "")?;
    frame.append_child(&status)?;
    if kind != "embedded" {
        let close = el(
            &doc,
            "button",
            &[("type", "button"), ("class", "x"), ("aria-label", &t(f::CLOSE, "Close"))],
            "×",
        )?;
        frame.append_child(&close)?;
    }
    root.append_child(&frame)?;

    let before = doc.active_element().and_then(|e| e.dyn_into::<HtmlElement>().ok());
    let drawn = Rc::new(Drawn {
        widget: widget.clone(),
        variant: variant.map(|v| v.name.clone()),
        host: host.clone(),
        root: root.clone(),
        frame: frame.clone(),
        before,
        submitted: Cell::new(false),
        closed: Cell::new(false),
    });
    wire(&drawn, &form)?;
    if let Some(dialog) = frame.dyn_ref::<HtmlDialogElement>() {
        dialog.show_modal()?;
        if let Some(first) = root
            .query_selector("input")?
            .and_then(|e| e.dyn_into::<HtmlElement>().ok())
        {
            first.focus()?;
        }
    }
    SITE.with(|s| {
        if let Some(site) = s.borrow().as_ref() {
            site.track(ab::WIDGET_SHOWN, &widget, &drawn.variant);
        }
    });
    host.set_attribute("data-orbita-state", "open")?;
    dispatch(&drawn, "orbita:open");
    Ok(())
}

/// Focusable controls of the widget, in order (hidden ones left out).
fn focusables(drawn: &Drawn) -> Vec<HtmlElement> {
    let Ok(list) = drawn.root.query_selector_all("input,button") else {
        return Vec::new();
    };
    (0..list.length())
        .filter_map(|i| list.item(i))
        .filter_map(|n| n.dyn_into::<HtmlElement>().ok())
        .filter(|e| e.closest("[hidden]").ok().flatten().is_none())
        .collect()
}

/// Listeners: close button, Esc, focus kept inside a modal, submission.
fn wire(drawn: &Rc<Drawn>, form: &Element) -> Result<(), JsValue> {
    if let Some(close) = drawn.root.query_selector(".x")? {
        let d = drawn.clone();
        let on_close = Closure::<dyn Fn()>::new(move || close_widget(&d));
        close.add_event_listener_with_callback("click", on_close.as_ref().unchecked_ref())?;
        on_close.forget();
    }
    // A modal closed by Esc (the dialog's own `cancel`) or by us ends in `close`.
    if drawn.frame.has_type::<HtmlDialogElement>() {
        let d = drawn.clone();
        let on_closed = Closure::<dyn Fn()>::new(move || close_widget(&d));
        drawn
            .frame
            .add_event_listener_with_callback("close", on_closed.as_ref().unchecked_ref())?;
        on_closed.forget();
    }
    let d = drawn.clone();
    let on_key = Closure::<dyn Fn(KeyboardEvent)>::new(move |e: KeyboardEvent| {
        let modal = d.frame.has_type::<HtmlDialogElement>();
        if e.key() == "Escape" && !modal && d.widget.kind != "embedded" {
            close_widget(&d);
        }
        if e.key() != "Tab" || !modal {
            return;
        }
        let all = focusables(&d);
        let (Some(first), Some(last)) = (all.first(), all.last()) else {
            return;
        };
        let active = d.root.active_element();
        let at = |x: &HtmlElement| active.as_ref().is_some_and(|a| a == x.unchecked_ref::<Element>());
        if e.shift_key() && at(first) {
            e.prevent_default();
            let _ = last.focus();
        } else if !e.shift_key() && at(last) {
            e.prevent_default();
            let _ = first.focus();
        }
    });
    drawn
        .frame
        .add_event_listener_with_callback("keydown", on_key.as_ref().unchecked_ref())?;
    on_key.forget();
    let d = drawn.clone();
    let on_submit = Closure::<dyn Fn(web_sys::Event)>::new(move |e: web_sys::Event| {
        e.prevent_default();
        let d = d.clone();
        wasm_bindgen_futures::spawn_local(async move {
            if let Err(e) = submit(&d).await {
                show_status(&d, "Sorry, that did not work. Please try again.");
                web_sys::console::warn_2(&"orbita: subscription failed:".into(), &e);
            }
        });
    });
    form.add_event_listener_with_callback("submit", on_submit.as_ref().unchecked_ref())?;
    on_submit.forget();
    Ok(())
}

fn close_widget(drawn: &Drawn) {
    if drawn.closed.replace(true) {
        return;
    }
    if let Some(dialog) = drawn.frame.dyn_ref::<HtmlDialogElement>() {
        if dialog.open() {
            dialog.close();
        }
    }
    let submitted = drawn.submitted.get();
    SITE.with(|s| {
        if let Some(site) = s.borrow_mut().as_mut() {
            site.open = false;
            if !submitted {
                site.reload();
                site.memory.seen(&drawn.widget.id).closed = Date::now();
                site.save();
                site.track(ab::WIDGET_CLOSED, &drawn.widget, &drawn.variant);
            }
        }
    });
    dispatch(drawn, "orbita:close");
    drawn.host.remove();
    if let Some(before) = &drawn.before {
        let _ = before.focus();
    }
}

fn show_status(drawn: &Drawn, text: &str) {
    if let Ok(Some(status)) = drawn.root.query_selector("[role=status]") {
        status.set_text_content(Some(text));
    }
}

/// Shows (or clears, with an empty message) a field's error, tied to it for assistive tech.
fn field_error(drawn: &Drawn, name: &str, message: &str) -> Option<HtmlElement> {
    let input = drawn
        .root
        .get_element_by_id(&["f-", name].concat())?
        .dyn_into::<HtmlElement>()
        .ok()?;
    if message.is_empty() {
        let _ = input.remove_attribute("aria-invalid");
    } else {
        let _ = input.set_attribute("aria-invalid", "true");
    }
    if let Some(error) = drawn.root.get_element_by_id(&["e-", name].concat()) {
        error.set_text_content(Some(message));
    }
    Some(input)
}

/// The checks the collector makes too, here for a quick answer at the field.
fn check(field: &Field, value: &str) -> Option<&'static str> {
    if value.is_empty() {
        return field.required.then_some("This field is required.");
    }
    match field.kind.as_str() {
        "email" => {
            let ok = value.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty() && domain.contains('.') && !value.contains(char::is_whitespace)
            });
            (!ok).then_some("Enter an email address like name@example.com.")
        }
        "phone" => {
            let digits = value.chars().filter(char::is_ascii_digit).count();
            (!(7..=15).contains(&digits)).then_some("Enter a phone number with 7 to 15 digits.")
        }
        _ => None,
    }
}

async fn submit(drawn: &Rc<Drawn>) -> Result<(), JsValue> {
    if drawn.submitted.get() {
        return Ok(());
    }
    let values = Object::new();
    let mut first_bad: Option<HtmlElement> = None;
    for field in &drawn.widget.fields {
        let value = drawn
            .root
            .get_element_by_id(&["f-", &field.name].concat())
            .and_then(|e| e.dyn_into::<HtmlInputElement>().ok())
            .map(|i| i.value())
            .unwrap_or_default();
        let value = value.trim();
        let problem = check(field, value).unwrap_or("");
        let input = field_error(drawn, &field.name, problem);
        if !problem.is_empty() && first_bad.is_none() {
            first_bad = input;
        }
        if !value.is_empty() {
            Reflect::set(&values, &field.name.as_str().into(), &value.into())?;
        }
    }
    let consent_box = drawn
        .root
        .get_element_by_id("f-consent")
        .and_then(|e| e.dyn_into::<HtmlInputElement>().ok());
    let consented = consent_box.as_ref().is_some_and(|c| c.checked());
    if consent_box.is_some() {
        let problem = if consented {
            ""
        } else {
            "Please tick the box to agree."
        };
        let input = field_error(drawn, "consent", problem);
        if !consented && first_bad.is_none() {
            first_bad = input;
        }
    }
    if let Some(bad) = first_bad {
        show_status(drawn, "");
        return bad.focus();
    }
    let (endpoint, write_key, visitor) = SITE.with(|s| {
        s.borrow().as_ref().map_or_else(Default::default, |s| {
            (
                s.endpoint.clone(),
                s.write_key.clone(),
                tracker_call(&s.orbita, "anonymousId"),
            )
        })
    });
    let body = Object::new();
    Reflect::set(&body, &sub::WRITE_KEY.into(), &write_key.into())?;
    Reflect::set(&body, &sub::WIDGET_ID.into(), &drawn.widget.id.as_str().into())?;
    if let Some(v) = &drawn.variant {
        Reflect::set(&body, &sub::VARIANT.into(), &v.as_str().into())?;
    }
    if !visitor.is_empty() {
        Reflect::set(&body, &sub::ANONYMOUS_ID.into(), &visitor.into())?;
    }
    Reflect::set(&body, &sub::FIELDS.into(), &values)?;
    Reflect::set(&body, &sub::CONSENT.into(), &consented.into())?;
    let init = RequestInit::new();
    init.set_method("POST");
    init.set_body(&js_sys::JSON::stringify(&body)?.into());
    let headers = Object::new();
    Reflect::set(&headers, &"content-type".into(), &"application/json".into())?;
    init.set_headers(&headers);
    let url = [endpoint.as_str(), "/v1/subscribe"].concat();
    let response: Response = JsFuture::from(window().fetch_with_str_and_init(&url, &init))
        .await?
        .dyn_into()?;
    let answer = JsFuture::from(response.json()?).await.unwrap_or(JsValue::NULL);
    if !response.ok() {
        let field = get_text(&answer, "field");
        let message = get_text(&answer, "message");
        if let Some(input) = field_error(drawn, &field, &message) {
            show_status(drawn, "");
            return input.focus();
        }
        show_status(drawn, "Sorry, that did not work. Please try again.");
        return Ok(());
    }
    drawn.submitted.set(true);
    SITE.with(|s| {
        if let Some(site) = s.borrow_mut().as_mut() {
            site.reload();
            site.memory.seen(&drawn.widget.id).submitted = Date::now();
            site.save();
            site.track(ab::WIDGET_SUBMITTED, &drawn.widget, &drawn.variant);
        }
    });
    if let Ok(Some(form)) = drawn.root.query_selector("form") {
        form.set_attribute("hidden", "")?;
    }
    let variant = drawn
        .variant
        .as_ref()
        .and_then(|name| drawn.widget.variants.iter().find(|v| &v.name == name));
    show_status(drawn, &text_of(&drawn.widget, variant, f::SUCCESS, "Thank you!"));
    drawn.host.set_attribute("data-orbita-state", "submitted")?;
    dispatch(drawn, "orbita:submit");
    // Focus was on the submit button, now hidden: keep it in the widget.
    if let Some(close) = drawn
        .root
        .query_selector(".x")?
        .and_then(|e| e.dyn_into::<HtmlElement>().ok())
    {
        close.focus()?;
    }
    Ok(())
}
