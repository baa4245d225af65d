//! The Lumen & Loom demo shop: static pages generated from the shop's own product feed
//! (`demo-site/feed.xml`, the same file the collector imports), so the shop and the
//! recommender always agree on products, prices and URLs.
//!
//! The pages use Orbita only as a shop would: the script-tag snippet, `orbita(...)` calls and
//! `data-orbita-placement` placeholders. No SDK code lives here.

mod pages;
mod svg;

use std::fs;
use std::io;
use std::path::Path;

use engine::catalogue::Product;
use engine::feed::parse_merchant_feed;

/// The shop's product feed (Google Merchant Center XML).
pub const FEED_XML: &str = include_str!("../feed.xml");
/// The demo shop's widgets (site configuration), seeded by `cargo xtask demo`.
pub const SITE_CONFIG_JSON: &str = include_str!("../site-config.json");
/// The demo site's public write key (also in `edge-collector/wrangler.toml`).
pub const DEMO_WRITE_KEY: &str = "demo-write-key";

/// What was generated.
#[derive(Debug)]
pub struct SiteSummary {
    /// Number of HTML pages written.
    pub pages: usize,
    /// Number of products in the feed.
    pub products: usize,
    /// Number of categories.
    pub categories: usize,
}

/// A top-level category and its products, in feed order.
pub struct Category<'a> {
    /// Display name, e.g. `Kitchen`.
    pub name: &'a str,
    /// URL slug, e.g. `kitchen`.
    pub slug: String,
    /// Products of the category.
    pub products: Vec<&'a Product>,
}

/// The catalogue from the feed. Panics if the committed feed does not parse (a build error).
pub fn catalogue() -> Vec<Product> {
    let import = parse_merchant_feed(FEED_XML);
    assert!(
        import.errors.is_empty(),
        "demo-site/feed.xml has bad entries: {:?}",
        import.errors
    );
    import.products
}

/// Groups products by top-level category, in order of first appearance.
pub fn categories(products: &[Product]) -> Vec<Category<'_>> {
    let mut out: Vec<Category<'_>> = Vec::new();
    for p in products {
        let name = p.top_category();
        match out.iter_mut().find(|c| c.name == name) {
            Some(c) => c.products.push(p),
            None => out.push(Category {
                name,
                slug: slug(name),
                products: vec![p],
            }),
        }
    }
    out
}

/// `Coffee & Tea` → `coffee-tea`.
pub fn slug(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_string()
}

/// Writes the whole site (pages, styles, the shop's script, images, the feed) into `out`.
/// The SDK files go to `out/orbita/`, written by the build, not by this crate.
pub fn build(out: &Path) -> io::Result<SiteSummary> {
    let products = catalogue();
    let cats = categories(&products);
    for dir in ["assets", "img", "p", "c"] {
        fs::create_dir_all(out.join(dir))?;
    }
    fs::write(
        out.join("assets/shop.css"),
        include_str!("../assets/shop.css"),
    )?;
    fs::write(
        out.join("assets/shop.js"),
        include_str!("../assets/shop.js"),
    )?;
    fs::write(out.join("feed.xml"), FEED_XML)?;
    fs::write(out.join("img/hero.svg"), svg::hero())?;
    fs::write(out.join("img/favicon.svg"), svg::favicon())?;
    for (i, c) in cats.iter().enumerate() {
        for p in &c.products {
            fs::write(out.join(format!("img/{}.svg", p.id)), svg::product(p, i))?;
        }
    }
    let mut pages = 0;
    let mut write = |path: String, html: String| -> io::Result<()> {
        pages += 1;
        fs::write(out.join(path), html)
    };
    write("index.html".into(), pages::home(&cats))?;
    for c in &cats {
        fs::create_dir_all(out.join("c").join(&c.slug))?;
        write(
            format!("c/{}/index.html", c.slug),
            pages::category(&cats, c),
        )?;
    }
    for p in &products {
        write(format!("p/{}.html", p.id), pages::product(&cats, p))?;
    }
    write("cart.html".into(), pages::cart(&cats))?;
    write("thank-you.html".into(), pages::thank_you(&cats))?;
    write("404.html".into(), pages::not_found(&cats))?;
    Ok(SiteSummary {
        pages,
        products: products.len(),
        categories: cats.len(),
    })
}

/// Escapes text for HTML element content and attribute values.
pub fn html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A JSON string literal that is also safe inside `<script>` (no `<`, `>` or `&` verbatim).
pub fn json_string(text: &str) -> String {
    let mut out = String::from('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feed_is_a_believable_shop() {
        let products = catalogue();
        let cats = categories(&products);
        assert!(products.len() >= 50, "{} products", products.len());
        assert!(cats.len() >= 5, "{} categories", cats.len());
        assert!(products
            .iter()
            .all(|p| p.price > 0.0 && p.currency == "EUR"));
        assert!(
            products.iter().any(|p| p.old_price.is_some()),
            "some products are on sale"
        );
        assert!(
            products.iter().any(|p| !p.available),
            "some products are sold out"
        );
    }

    #[test]
    fn escaping() {
        assert_eq!(
            html("<img src=x onerror=\"a\">&"),
            "&lt;img src=x onerror=&quot;a&quot;&gt;&amp;"
        );
        assert_eq!(
            json_string("</script>\"\n"),
            "\"\\u003c/script\\u003e\\\"\\u000a\""
        );
        assert_eq!(slug("Coffee & Tea"), "coffee-tea");
    }

    #[test]
    fn builds_every_page() {
        let dir = std::env::temp_dir().join(format!("orbita-site-test-{}", std::process::id()));
        let summary = build(&dir).unwrap();
        // Home, categories, products, cart, thank-you, 404.
        assert_eq!(summary.pages, 1 + summary.categories + summary.products + 3);
        let page = fs::read_to_string(dir.join("p/LL-1001.html")).unwrap();
        assert!(page.contains("data-orbita-placement"));
        assert!(page.contains("application/ld+json"));
        assert!(
            page.contains("\"@type\":\"Product\""),
            "product views come from the JSON-LD"
        );
        fs::remove_dir_all(dir).unwrap();
    }
}
