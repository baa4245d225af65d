//! Drawing a recommendation block as product cards, text always as text: a scroll-snap row
//! (a carousel on narrow screens) with previous/next buttons, an impression once half of the
//! block has been visible, and clicks that carry the block's `recommId`.

use js_sys::{Array, Function, Object, Reflect};
use protocol::ecommerce;
use protocol::experiment::{BLOCK_VIEWED, PLACEMENT, PRODUCT_CLICKED, RECOMM_ID, VARIANT};
use protocol::recommendation::fields;
use wasm_bindgen::prelude::*;
use web_sys::{Document, Element, ShadowRootInit, ShadowRootMode};

/// The block's styles. Cards sit in one horizontally scrolling row (a carousel on narrow
/// screens), so the block's height never depends on the number of items or the screen width.
/// Shops theme it with CSS custom properties on the placeholder.
const STYLE: &str = "\
:host{display:block;contain:content}\
.block{position:relative;font:var(--orbita-font,inherit);color:var(--orbita-text,inherit);overflow:hidden;box-sizing:border-box}\
h2{font-size:1.15em;margin:0 0 .6em;height:1.4em;line-height:1.4em;overflow:hidden;padding-right:72px}\
.nav{position:absolute;top:3px;right:4px;display:flex;gap:6px}\
.nav button{width:30px;height:30px;padding:0;border-radius:50%;border:1px solid var(--orbita-border,#e6e2da);\
background:var(--orbita-card-bg,#fff);color:inherit;font:inherit;font-size:18px;line-height:1;cursor:pointer}\
.nav button:focus-visible{outline:2px solid var(--orbita-accent,#2f5d50);outline-offset:2px}\
ul{list-style:none;margin:0;padding:0 0 8px;display:flex;gap:16px;overflow-x:auto;scroll-snap-type:x mandatory}\
@media (prefers-reduced-motion:no-preference){ul{scroll-behavior:smooth}}\
li{flex:0 0 var(--orbita-card-width,180px);scroll-snap-align:start}\
a{display:block;color:inherit;text-decoration:none;border-radius:var(--orbita-radius,10px);\
background:var(--orbita-card-bg,#fff);border:1px solid var(--orbita-border,#e6e2da);padding:10px;height:244px;box-sizing:border-box}\
a:hover,a:focus-visible{border-color:var(--orbita-accent,#2f5d50);outline:none}\
img{display:block;width:100%;height:150px;object-fit:cover;border-radius:6px;background:#f3f0ea}\
.name{display:block;margin:8px 0 4px;font-size:.9em;line-height:1.25em;height:2.5em;overflow:hidden}\
.price{font-weight:600;color:var(--orbita-accent,#2f5d50)}\
.old{margin-left:6px;color:#8a857c;font-size:.85em}";

fn text(value: &JsValue, key: &str) -> String {
    Reflect::get(value, &key.into())
        .ok()
        .and_then(|v| v.as_string())
        .unwrap_or_default()
}

fn number(value: &JsValue, key: &str) -> Option<f64> {
    Reflect::get(value, &key.into())
        .ok()
        .and_then(|v| v.as_f64())
}

/// `url` resolved against the page if it is http(s); anything else (`javascript:`, `data:`)
/// is refused, since feeds are not trusted input.
pub fn safe_url(url: &str) -> Option<String> {
    let base = web_sys::window()?.location().href().ok()?;
    let parsed = web_sys::Url::new_with_base(url, &base).ok()?;
    matches!(parsed.protocol().as_str(), "http:" | "https:").then(|| parsed.href())
}

/// A price in the visitor's locale, e.g. `€49.00`; plain `49.00 XYZ` for a currency code that
/// is not well-formed (`Intl.NumberFormat` would throw on it, and feeds are not trusted input).
pub fn format_price(amount: f64, currency: &str) -> String {
    let well_formed = currency.len() == 3 && currency.bytes().all(|b| b.is_ascii_alphabetic());
    if !well_formed {
        return plain_price(amount, currency);
    }
    let options = js_sys::Object::new();
    let _ = Reflect::set(&options, &"style".into(), &"currency".into());
    let _ = Reflect::set(&options, &"currency".into(), &currency.into());
    let locales = Array::new();
    if let Some(lang) = web_sys::window().and_then(|w| w.navigator().language()) {
        locales.push(&lang.into());
    }
    let formatted = js_sys::Intl::NumberFormat::new(&locales, &options)
        .format()
        .call1(&JsValue::NULL, &amount.into())
        .ok()
        .and_then(|v| v.as_string());
    formatted.unwrap_or_else(|| plain_price(amount, currency))
}

/// `49.00 XYZ`, formatted by JavaScript (Rust's float formatting would add kilobytes of wasm).
fn plain_price(amount: f64, currency: &str) -> String {
    let fixed = js_sys::Number::from(amount)
        .to_fixed(2)
        .map(String::from)
        .unwrap_or_default();
    [fixed.as_str(), " ", currency].concat()
}

/// An integer as decimal text, via JavaScript (keeps `core::fmt` out of the wasm).
pub fn decimal(n: i32) -> String {
    js_sys::Number::from(n)
        .to_string_with_radix(10)
        .map(String::from)
        .unwrap_or_default()
}

fn element(doc: &Document, tag: &str, class: &str, content: &str) -> Result<Element, JsValue> {
    let el = doc.create_element(tag)?;
    if !class.is_empty() {
        el.set_class_name(class);
    }
    if !content.is_empty() {
        el.set_text_content(Some(content));
    }
    Ok(el)
}

/// Draws `block` (the `/v1/recommendations` answer) into `host`'s shadow root, replacing what
/// was there.
pub fn draw(
    host: &Element,
    block: &JsValue,
    placement: &str,
    orbita: Option<Function>,
) -> Result<(), JsValue> {
    let doc = host.owner_document().ok_or("host is not in a document")?;
    let root = match host.shadow_root() {
        Some(root) => root,
        None => host.attach_shadow(&ShadowRootInit::new(ShadowRootMode::Open))?,
    };
    root.set_text_content(None);
    let recomm_id = text(block, fields::RECOMM_ID);
    let items = Array::from(&Reflect::get(block, &fields::ITEMS.into())?);

    let style = element(&doc, "style", "", STYLE)?;
    root.append_child(&style)?;
    let section = element(&doc, "section", "block", "")?;
    // Lock the block to the height the shop reserved, so drawing it never shifts the page.
    let reserved = host.client_height();
    if reserved > 0 {
        section.set_attribute("style", &["height:", &decimal(reserved), "px"].concat())?;
    }
    let title = host.get_attribute("data-orbita-title").unwrap_or_default();
    if !title.is_empty() {
        let heading = element(&doc, "h2", "", &title)?;
        section.set_attribute("aria-label", &title)?;
        section.append_child(&heading)?;
    }
    let list = element(&doc, "ul", "", "")?;
    let labels = Labels::of(host);
    let base = properties(&recomm_id, placement, host);
    for item in items.iter() {
        let card = card(&doc, &item, &base, orbita.clone())?;
        list.append_child(&card)?;
    }
    let buttons = nav(&doc, &list, &labels)?;
    section.append_child(&buttons)?;
    section.append_child(&list)?;
    root.append_child(&section)?;
    host.set_attribute("data-orbita-recomm-id", &recomm_id)?;
    host.set_attribute("data-orbita-state", "shown")?;
    if let Some(orbita) = orbita {
        observe_impression(host, orbita, base);
    }
    Ok(())
}

/// Texts of the carousel buttons: the shop's (in its language) or English.
struct Labels {
    previous: String,
    next: String,
}

impl Labels {
    fn of(host: &Element) -> Self {
        let label = |name: &str, default: &str| {
            host.get_attribute(name)
                .filter(|l| !l.trim().is_empty())
                .unwrap_or_else(|| default.into())
        };
        Self {
            previous: label("data-orbita-previous-label", "Previous products"),
            next: label("data-orbita-next-label", "Next products"),
        }
    }
}

/// The event properties every event of this block carries: `recomm_id`, `placement` and,
/// when the placement is under an A/B test, `variant` (the placeholder's
/// `data-orbita-variant`).
fn properties(recomm_id: &str, placement: &str, host: &Element) -> Object {
    let props = Object::new();
    let _ = Reflect::set(&props, &RECOMM_ID.into(), &recomm_id.into());
    let _ = Reflect::set(&props, &PLACEMENT.into(), &placement.into());
    if let Some(variant) = host.get_attribute("data-orbita-variant") {
        let _ = Reflect::set(&props, &VARIANT.into(), &variant.into());
    }
    props
}

/// A copy of `props` (each event gets its own object: the tracker may keep it).
fn copy(props: &Object) -> Object {
    Object::assign(&Object::new(), props)
}

/// Previous/next buttons scrolling the row by about a screen of cards; keyboard-reachable
/// (native buttons), labelled, and placed over the heading row so they take no height.
fn nav(doc: &Document, list: &Element, labels: &Labels) -> Result<Element, JsValue> {
    let nav = element(doc, "div", "nav", "")?;
    for (class, label, glyph, direction) in [
        ("prev", labels.previous.as_str(), "\u{2039}", -1.0),
        ("next", labels.next.as_str(), "\u{203a}", 1.0),
    ] {
        let button = element(doc, "button", class, glyph)?;
        button.set_attribute("type", "button")?;
        button.set_attribute("aria-label", label)?;
        let list = list.clone();
        let on_click = Closure::<dyn Fn()>::new(move || {
            let step = f64::from(list.client_width()) * 0.9 * direction;
            let options = web_sys::ScrollToOptions::new();
            options.set_left(step);
            list.scroll_by_with_scroll_to_options(&options);
        });
        button.add_event_listener_with_callback("click", on_click.as_ref().unchecked_ref())?;
        on_click.forget();
        nav.append_child(&button)?;
    }
    Ok(nav)
}

/// Reports `Recommendation Block Viewed` the first time at least half of the block is in the
/// viewport (IntersectionObserver, so no scroll listener runs on the main thread).
fn observe_impression(host: &Element, orbita: Function, props: Object) {
    let Ok(constructor) = Reflect::get(&js_sys::global(), &"IntersectionObserver".into())
        .and_then(|c| c.dyn_into::<Function>())
    else {
        return;
    };
    let on_change =
        Closure::<dyn FnMut(Array, JsValue)>::new(move |entries: Array, observer: JsValue| {
            let seen = entries.iter().any(|entry| {
                let ratio = Reflect::get(&entry, &"intersectionRatio".into())
                    .ok()
                    .and_then(|r| r.as_f64())
                    .unwrap_or(0.0);
                let intersecting = Reflect::get(&entry, &"isIntersecting".into())
                    .map(|v| v.is_truthy())
                    .unwrap_or(false);
                intersecting && ratio >= 0.5
            });
            if seen {
                if let Ok(disconnect) = Reflect::get(&observer, &"disconnect".into())
                    .and_then(|d| d.dyn_into::<Function>())
                {
                    let _ = disconnect.call0(&observer);
                }
                let _ = orbita.call3(
                    &JsValue::NULL,
                    &"track".into(),
                    &BLOCK_VIEWED.into(),
                    &copy(&props),
                );
            }
        });
    let options = Object::new();
    let _ = Reflect::set(&options, &"threshold".into(), &0.5.into());
    let args = Array::of2(on_change.as_ref(), &options);
    if let Ok(observer) = Reflect::construct(&constructor, &args) {
        if let Ok(observe) =
            Reflect::get(&observer, &"observe".into()).and_then(|o| o.dyn_into::<Function>())
        {
            let _ = observe.call1(&observer, host);
        }
    }
    on_change.forget();
}

fn card(
    doc: &Document,
    item: &JsValue,
    base: &Object,
    orbita: Option<Function>,
) -> Result<Element, JsValue> {
    let li = doc.create_element("li")?;
    let link = element(doc, "a", "", "")?;
    if let Some(href) = safe_url(&text(item, fields::URL)) {
        link.set_attribute("href", &href)?;
    }
    let img = doc.create_element("img")?;
    img.set_attribute("alt", "")?;
    img.set_attribute("width", "158")?;
    img.set_attribute("height", "150")?;
    img.set_attribute("loading", "lazy")?;
    img.set_attribute("decoding", "async")?;
    if let Some(src) = safe_url(&text(item, fields::IMAGE)) {
        img.set_attribute("src", &src)?;
    }
    link.append_child(&img)?;
    let name = element(doc, "span", "name", &text(item, fields::TITLE))?;
    link.append_child(&name)?;
    let currency = text(item, fields::CURRENCY);
    if let Some(price) = number(item, fields::PRICE) {
        let price = element(doc, "span", "price", &format_price(price, &currency))?;
        link.append_child(&price)?;
    }
    if let Some(old) = number(item, fields::OLD_PRICE) {
        let old = element(doc, "s", "old", &format_price(old, &currency))?;
        link.append_child(&old)?;
    }
    if let Some(orbita) = orbita {
        let props = copy(base);
        let _ = Reflect::set(
            &props,
            &ecommerce::PRODUCT_ID.into(),
            &text(item, fields::ID).into(),
        );
        let on_click = Closure::<dyn Fn()>::new(move || {
            let _ = orbita.call3(
                &JsValue::NULL,
                &"track".into(),
                &PRODUCT_CLICKED.into(),
                &copy(&props),
            );
        });
        link.add_event_listener_with_callback("click", on_click.as_ref().unchecked_ref())?;
        on_click.forget();
    }
    li.append_child(&link)?;
    Ok(li)
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    fn block(title: &str, url: &str, image: &str) -> JsValue {
        let text = format!(
            r#"{{"recommId":"r-1","items":[{{"id":"A","title":{},"price":49,"oldPrice":59,"currency":"EUR","image":{},"url":{},"reason":"x"}}]}}"#,
            JSON_string(title),
            JSON_string(image),
            JSON_string(url)
        );
        js_sys::JSON::parse(&text).unwrap()
    }

    #[allow(non_snake_case)]
    fn JSON_string(s: &str) -> String {
        js_sys::JSON::stringify(&s.into())
            .unwrap()
            .as_string()
            .unwrap()
    }

    fn host() -> Element {
        let doc = web_sys::window().unwrap().document().unwrap();
        let host = doc.create_element("div").unwrap();
        doc.body().unwrap().append_child(&host).unwrap();
        host
    }

    #[wasm_bindgen_test]
    fn feed_text_is_rendered_as_text_never_as_html() {
        let host = host();
        let hostile = "<img src=x onerror=\"window.__pwned=1\">";
        draw(&host, &block(hostile, "/p/A", "/img/a.svg"), "home", None).unwrap();
        let root = host.shadow_root().unwrap();
        assert_eq!(
            root.query_selector_all("img").unwrap().length(),
            1,
            "only the product image"
        );
        let name = root.query_selector(".name").unwrap().unwrap();
        assert_eq!(name.text_content().as_deref(), Some(hostile));
        assert_eq!(name.child_element_count(), 0);
        assert_eq!(
            host.get_attribute("data-orbita-recomm-id").as_deref(),
            Some("r-1")
        );
    }

    #[wasm_bindgen_test]
    fn only_http_links_and_images() {
        let host = host();
        draw(
            &host,
            &block("Lamp", "javascript:alert(1)", "data:image/svg+xml,<svg/>"),
            "home",
            None,
        )
        .unwrap();
        let root = host.shadow_root().unwrap();
        let link = root.query_selector("a").unwrap().unwrap();
        assert_eq!(link.get_attribute("href"), None);
        assert_eq!(
            root.query_selector("img")
                .unwrap()
                .unwrap()
                .get_attribute("src"),
            None
        );
        assert!(safe_url("/p/A").unwrap().ends_with("/p/A"));
        assert!(safe_url("https://shop.example/p/A").is_some());
    }

    #[wasm_bindgen_test]
    fn prices_use_intl_and_survive_bad_currencies() {
        assert!(format_price(49.0, "EUR").contains("49.00"));
        assert!(format_price(49.0, "EUR").contains('€'));
        assert_eq!(format_price(49.0, "not a currency"), "49.00 not a currency");
    }

    #[wasm_bindgen_test]
    fn redrawing_replaces_the_block() {
        let host = host();
        draw(&host, &block("One", "/p/1", "/i/1.svg"), "home", None).unwrap();
        draw(&host, &block("Two", "/p/2", "/i/2.svg"), "home", None).unwrap();
        let root = host.shadow_root().unwrap();
        assert_eq!(root.query_selector_all("li").unwrap().length(), 1);
        assert_eq!(
            root.query_selector(".name")
                .unwrap()
                .unwrap()
                .text_content()
                .as_deref(),
            Some("Two")
        );
    }
}
