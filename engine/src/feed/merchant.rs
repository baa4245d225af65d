//! Google Merchant Center XML feeds: RSS 2.0 (`<item>`) or Atom (`<entry>`) with the `g:`
//! namespace.

use std::collections::BTreeMap;

use quick_xml::events::Event;
use quick_xml::Reader;

use super::{availability, parse_price, sale, FeedImport, FeedRowError};
use crate::catalogue::Product;

/// Merchant Center fields kept as product attributes (color, size, ...), by their local name.
const ATTRIBUTES: [&str; 12] = [
    "color",
    "size",
    "material",
    "pattern",
    "gender",
    "age_group",
    "condition",
    "gtin",
    "mpn",
    "google_product_category",
    "item_group_id",
    "description",
];

#[derive(Default)]
struct ItemFields {
    id: String,
    title: String,
    link: String,
    price: String,
    sale_price: String,
    product_type: String,
    availability: String,
    image_link: String,
    brand: String,
    attributes: BTreeMap<String, String>,
}

impl ItemFields {
    fn slot(&mut self, local_name: &[u8]) -> Option<&mut String> {
        Some(match local_name {
            b"id" => &mut self.id,
            b"title" => &mut self.title,
            b"link" => &mut self.link,
            b"price" => &mut self.price,
            b"sale_price" => &mut self.sale_price,
            b"product_type" => &mut self.product_type,
            b"availability" => &mut self.availability,
            b"image_link" => &mut self.image_link,
            b"brand" => &mut self.brand,
            other => {
                let name = std::str::from_utf8(other).ok()?;
                let name = ATTRIBUTES
                    .iter()
                    .find(|a| **a == name)
                    .or_else(|| name.starts_with("custom_label_").then_some(&name))?;
                self.attributes.entry(name.to_string()).or_default()
            }
        })
    }

    fn into_product(self) -> Result<Product, String> {
        if self.id.is_empty() {
            return Err("missing <g:id>".into());
        }
        if self.title.is_empty() {
            return Err("missing <g:title>".into());
        }
        let (regular, currency) = parse_price(&self.price)
            .ok_or_else(|| format!("<g:price> {:?} is not like \"49.00 USD\"", self.price))?;
        let sale_price = if self.sale_price.is_empty() {
            None
        } else {
            Some(parse_price(&self.sale_price).ok_or_else(|| {
                format!(
                    "<g:sale_price> {:?} is not like \"39.00 USD\"",
                    self.sale_price
                )
            })?)
        };
        let (price, old_price) = sale(regular, sale_price.map(|(amount, _)| amount));
        Ok(Product {
            id: self.id,
            title: self.title,
            price,
            old_price,
            currency,
            category: self.product_type,
            available: availability(&self.availability)?,
            image: self.image_link,
            url: self.link,
            brand: (!self.brand.is_empty()).then_some(self.brand),
            attributes: self
                .attributes
                .into_iter()
                .filter(|(_, v)| !v.is_empty())
                .collect(),
        })
    }
}

/// Parses a Google Merchant Center XML feed. Malformed XML stops the parse at that point and is
/// reported as an error row; entries before it are kept.
pub fn parse(xml: &str) -> FeedImport {
    let mut reader = Reader::from_str(xml);
    reader.config_mut().trim_text(true);
    let mut out = FeedImport::default();
    let mut item: Option<ItemFields> = None;
    let mut field: Option<Vec<u8>> = None;
    let mut row = 0;
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) => {
                let local = e.local_name().as_ref().to_vec();
                if local == b"item" || local == b"entry" {
                    row += 1;
                    item = Some(ItemFields::default());
                } else if item.is_some() {
                    field = Some(local);
                }
            }
            Ok(Event::Text(t)) => {
                if let (Some(fields), Some(name)) = (item.as_mut(), field.as_ref()) {
                    if let Some(slot) = fields.slot(name) {
                        match t.unescape() {
                            Ok(text) => slot.push_str(&text),
                            Err(e) => {
                                out.errors.push(FeedRowError {
                                    row,
                                    id: None,
                                    reason: format!("bad text: {e}"),
                                });
                            }
                        }
                    }
                }
            }
            Ok(Event::CData(c)) => {
                if let (Some(fields), Some(name)) = (item.as_mut(), field.as_ref()) {
                    if let Some(slot) = fields.slot(name) {
                        slot.push_str(&String::from_utf8_lossy(&c.into_inner()));
                    }
                }
            }
            Ok(Event::End(e)) => {
                let local = e.local_name();
                if local.as_ref() == b"item" || local.as_ref() == b"entry" {
                    if let Some(fields) = item.take() {
                        let id = (!fields.id.is_empty()).then(|| fields.id.clone());
                        match fields.into_product() {
                            Ok(p) => out.products.push(p),
                            Err(reason) => out.errors.push(FeedRowError { row, id, reason }),
                        }
                    }
                }
                field = None;
            }
            Ok(Event::Eof) => {
                if item.is_some() {
                    out.errors.push(FeedRowError {
                        row,
                        id: None,
                        reason: "feed ends inside an <item>: it was cut off".into(),
                    });
                }
                break;
            }
            Ok(_) => {}
            Err(e) => {
                out.errors.push(FeedRowError {
                    row,
                    id: None,
                    reason: format!("malformed XML at byte {}: {e}", reader.error_position()),
                });
                break;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const FEED: &str = r#"<?xml version="1.0"?>
<rss xmlns:g="http://base.google.com/ns/1.0" version="2.0"><channel><title>Shop</title>
<item><g:id>A1</g:id><g:title>Tea &amp; Cups</g:title><g:link>/p/a1</g:link>
  <g:price>20.00 EUR</g:price><g:sale_price>15.50 EUR</g:sale_price>
  <g:product_type>Kitchen &gt; Tea</g:product_type><g:availability>in stock</g:availability>
  <g:image_link>/img/a1.svg</g:image_link><g:color>Blue</g:color><g:brand><![CDATA[Brew & Co]]></g:brand></item>
<item><g:id>A2</g:id><g:title>No price</g:title><g:price>cheap</g:price></item>
<item><g:title>No id</g:title><g:price>1.00 EUR</g:price></item>
<item><g:id>A3</g:id><g:title>Gone</g:title><g:price>5 EUR</g:price><g:availability>out of stock</g:availability></item>
</channel></rss>"#;

    #[test]
    fn parses_good_items_and_reports_bad_ones() {
        let import = parse(FEED);
        assert_eq!(
            import.products[0]
                .attributes
                .get("color")
                .map(String::as_str),
            Some("Blue")
        );
        let ids: Vec<&str> = import.products.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids, ["A1", "A3"]);
        let a1 = &import.products[0];
        assert_eq!(a1.title, "Tea & Cups");
        assert_eq!((a1.price, a1.old_price), (15.5, Some(20.0)));
        assert_eq!(a1.currency, "EUR");
        assert_eq!(a1.top_category(), "Kitchen");
        assert_eq!(a1.brand.as_deref(), Some("Brew & Co"));
        assert!(a1.available && !import.products[1].available);
        assert_eq!(
            super::super::error_rows(&import),
            [(2, Some("A2")), (3, None)]
        );
        assert!(import.errors[0].reason.contains("price"));
    }

    #[test]
    fn truncated_feed_keeps_earlier_items() {
        let at = FEED.find("<item><g:id>A3").unwrap();
        for (cut, expect) in [(at + 21, "cut off"), (at + 24, "malformed XML")] {
            let import = parse(&FEED[..cut]);
            assert_eq!(import.products.len(), 1);
            let last = import.errors.last().unwrap();
            assert_eq!(last.row, 4);
            assert!(last.reason.contains(expect), "{}", last.reason);
        }
    }
}
