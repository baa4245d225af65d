//! CSV feeds with a header row (RFC 4180 quoting, `,` or `;` separated).

use std::collections::BTreeMap;

use super::{availability, currency_code, parse_amount, FeedImport, FeedRowError};
use crate::catalogue::Product;

/// The product fields a column can fill.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Column {
    Id,
    Title,
    Price,
    OldPrice,
    Currency,
    Category,
    Availability,
    Image,
    Url,
    Brand,
    /// Any other column: kept as an attribute named by its header.
    Attribute,
}

/// The field a header names (case, spaces and dashes ignored).
fn column(header: &str) -> Column {
    let name = header.trim().to_ascii_lowercase().replace([' ', '-'], "_");
    match name.as_str() {
        "id" | "product_id" | "sku" | "offer_id" => Column::Id,
        "title" | "name" | "product_name" => Column::Title,
        "price" => Column::Price,
        "old_price" | "oldprice" | "compare_at_price" | "regular_price" | "list_price" => {
            Column::OldPrice
        }
        "currency" | "currency_id" | "currencyid" => Column::Currency,
        "category" | "category_path" | "product_type" | "categories" => Column::Category,
        "availability" | "available" | "in_stock" | "stock_status" => Column::Availability,
        "image" | "image_url" | "image_link" | "picture" => Column::Image,
        "url" | "link" | "product_url" => Column::Url,
        "brand" | "vendor" | "manufacturer" => Column::Brand,
        _ => Column::Attribute,
    }
}

/// `;` when the header has more semicolons than commas (spreadsheets in many locales save so).
fn delimiter(text: &str) -> u8 {
    let header = text.lines().next().unwrap_or("");
    if header.matches(';').count() > header.matches(',').count() {
        b';'
    } else {
        b','
    }
}

/// Parses a CSV feed (see `FeedFormat::Csv` for the columns).
pub fn parse(text: &str) -> FeedImport {
    let text = text.trim_start_matches('\u{feff}');
    let mut out = FeedImport::default();
    let mut reader = ::csv::ReaderBuilder::new()
        .delimiter(delimiter(text))
        .flexible(true)
        .trim(::csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers = match reader.headers() {
        Ok(h) => h.clone(),
        Err(e) => {
            out.errors.push(FeedRowError {
                row: 0,
                id: None,
                reason: format!("unreadable header row: {e}"),
            });
            return out;
        }
    };
    let columns: Vec<Column> = headers.iter().map(column).collect();
    // (byte offset, line breaks before it): counted incrementally, rows only move forward.
    let mut lines = (0usize, 0usize);
    for required in [Column::Id, Column::Title, Column::Price] {
        if !columns.contains(&required) {
            out.errors.push(FeedRowError {
                row: 0,
                id: None,
                reason: "the header must name the columns id, title (or name) and price".into(),
            });
            return out;
        }
    }
    for (index, record) in reader.records().enumerate() {
        // Rows are numbered by their line in the file, the header being row 0, so a shop finds
        // them in its spreadsheet (blank lines count, as they do there). The reader reports where
        // a record's parse began, which may be a blank line before it: skip line breaks first.
        let start = match &record {
            Ok(r) => r.position().map(|p| p.byte() as usize),
            Err(e) => e.position().map(|p| p.byte() as usize),
        };
        let row = match start {
            Some(start) if start >= lines.0 && start <= text.len() => {
                let breaks = text[start..]
                    .bytes()
                    .take_while(|b| matches!(b, b'\n' | b'\r'))
                    .count();
                let start = start + breaks;
                lines.1 += text.as_bytes()[lines.0..start]
                    .iter()
                    .filter(|b| **b == b'\n')
                    .count();
                lines.0 = start;
                lines.1
            }
            _ => index + 1,
        };
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                out.errors.push(FeedRowError {
                    row,
                    id: None,
                    reason: format!("unreadable row: {e}"),
                });
                continue;
            }
        };
        if record.iter().all(str::is_empty) {
            continue; // a blank line
        }
        let mut fields: BTreeMap<usize, &str> = BTreeMap::new();
        let mut attributes = BTreeMap::new();
        for (i, value) in record.iter().enumerate() {
            match columns.get(i) {
                Some(Column::Attribute) if !value.is_empty() => {
                    attributes.insert(headers[i].trim().to_string(), value.to_string());
                }
                Some(_) => {
                    fields.insert(i, value);
                }
                None => {}
            }
        }
        let get = |wanted: Column| {
            columns
                .iter()
                .position(|c| *c == wanted)
                .and_then(|i| fields.get(&i).copied())
                .unwrap_or("")
        };
        let id = get(Column::Id);
        match product(get, attributes) {
            Ok(p) => out.products.push(p),
            Err(reason) => out.errors.push(FeedRowError {
                row,
                id: Some(id.to_string()).filter(|i| !i.is_empty()),
                reason,
            }),
        }
    }
    out
}

/// Checks one row's fields and builds the product.
fn product<'a>(
    get: impl Fn(Column) -> &'a str,
    attributes: BTreeMap<String, String>,
) -> Result<Product, String> {
    let id = get(Column::Id);
    if id.is_empty() {
        return Err("missing id".into());
    }
    let title = get(Column::Title);
    if title.is_empty() {
        return Err("missing title".into());
    }
    let price_text = get(Column::Price);
    let (price, named) =
        parse_amount(price_text).ok_or_else(|| format!("price {price_text:?} is not a price"))?;
    let currency_text = Some(get(Column::Currency))
        .filter(|c| !c.is_empty())
        .or(named)
        .ok_or("no currency: add a currency column or write prices like \"49.00 EUR\"")?;
    let currency = currency_code(currency_text)
        .ok_or_else(|| format!("currency {currency_text:?} is not ISO 4217"))?;
    let old_text = get(Column::OldPrice);
    let old_price = if old_text.is_empty() {
        None
    } else {
        let (old, _) = parse_amount(old_text)
            .ok_or_else(|| format!("old price {old_text:?} is not a price"))?;
        // The old price is the crossed-out one: it only counts when it is higher.
        Some(old).filter(|old| *old > price)
    };
    let brand = get(Column::Brand);
    Ok(Product {
        id: id.to_string(),
        title: title.to_string(),
        price,
        old_price,
        currency,
        category: get(Column::Category).to_string(),
        available: availability(get(Column::Availability))?,
        image: get(Column::Image).to_string(),
        url: get(Column::Url).to_string(),
        brand: Some(brand.to_string()).filter(|b| !b.is_empty()),
        attributes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_by_name_in_any_order_and_other_columns_as_attributes() {
        let feed = "\u{feff}SKU,Name,Price,Currency,Old Price,Category,In Stock,Image URL,Link,Vendor,Colour\n\
            C-1,\"Mug, \"\"large\"\"\",12.50,eur,15,Kitchen > Mugs,yes,/img/c1.jpg,/p/c1,Loom,blue\n\
            C-2,Plate,9,EUR,8,Kitchen,out of stock,,,,\n\
            \n\
            C-3,Bowl,cheap,EUR,,,,,,,\n\
            ,Nameless,1,EUR,,,,,,,\n\
            C-5,Cup,3,EURO,,,,,,,\n\
            C-6,Jar,3,,,,,,,,\n\
            C-7,Lid,3,EUR,,,sometimes,,,,\n";
        let import = parse(feed);
        let ids: Vec<&str> = import.products.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids, ["C-1", "C-2"]);
        let mug = &import.products[0];
        assert_eq!(mug.title, "Mug, \"large\"");
        assert_eq!(
            (mug.price, mug.old_price, mug.currency.as_str()),
            (12.5, Some(15.0), "EUR")
        );
        assert_eq!(mug.category, "Kitchen > Mugs");
        assert_eq!(
            (mug.image.as_str(), mug.url.as_str()),
            ("/img/c1.jpg", "/p/c1")
        );
        assert_eq!(mug.brand.as_deref(), Some("Loom"));
        assert_eq!(
            mug.attributes.get("Colour").map(String::as_str),
            Some("blue")
        );
        assert!(mug.available);
        let plate = &import.products[1];
        assert_eq!(
            plate.old_price, None,
            "an old price below the price is not a discount"
        );
        assert!(!plate.available);
        // Data rows are numbered from 1 below the header; the blank line is row 3.
        assert_eq!(
            super::super::error_rows(&import),
            [
                (4, Some("C-3")),
                (5, None),
                (6, Some("C-5")),
                (7, Some("C-6")),
                (8, Some("C-7"))
            ]
        );
        assert!(import.errors[0].reason.contains("price"));
        assert!(import.errors[1].reason.contains("id"));
        assert!(import.errors[2].reason.contains("ISO 4217"));
        assert!(import.errors[3].reason.contains("currency"));
        assert!(import.errors[4].reason.contains("availability"));
    }

    #[test]
    fn semicolon_separated_with_decimal_commas() {
        let import = parse("id;title;price\nA;Lamp;49,90 EUR\n");
        assert_eq!(import.errors, []);
        assert_eq!(import.products[0].price, 49.9);
    }

    #[test]
    fn a_header_without_the_required_columns_is_one_clear_error() {
        let import = parse("sku,colour\nA,red\n");
        assert!(import.products.is_empty());
        assert_eq!(import.errors.len(), 1);
        assert_eq!(import.errors[0].row, 0);
        assert!(import.errors[0].reason.contains("id, title"));
    }
}
