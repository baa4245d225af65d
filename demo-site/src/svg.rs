//! Product pictures drawn as SVG, so the demo needs nothing from outside.

use engine::catalogue::Product;

use crate::html;

/// (background, accent) per category, in feed order.
const PALETTE: [(&str, &str); 6] = [
    ("#efe4d6", "#8c5a3c"),
    ("#e6ece4", "#4f6b52"),
    ("#ece7f0", "#6a5a7e"),
    ("#f4ecd6", "#b08a2e"),
    ("#e1ebe6", "#2f5d50"),
    ("#e3ebf0", "#4a6a80"),
];

/// A simple object silhouette per category.
fn shape(category: usize, accent: &str) -> String {
    match category % 6 {
        0 => format!("<ellipse cx='200' cy='230' rx='120' ry='42' fill='{accent}'/><rect x='300' y='215' width='90' height='18' rx='9' fill='{accent}'/>"),
        1 => format!("<path d='M130 150h140l-14 150a20 20 0 0 1-20 18h-72a20 20 0 0 1-20-18z' fill='{accent}'/><path d='M270 180c40 0 40 70 0 70' stroke='{accent}' stroke-width='14' fill='none'/>"),
        2 => format!("<rect x='90' y='150' width='220' height='150' rx='18' fill='{accent}'/><path d='M90 200h220M90 250h220' stroke='#fff' stroke-opacity='.35' stroke-width='8'/>"),
        3 => format!("<path d='M150 120h100l40 110H110z' fill='{accent}'/><rect x='190' y='230' width='20' height='70' fill='{accent}'/><rect x='150' y='300' width='100' height='14' rx='7' fill='{accent}'/>"),
        4 => format!("<path d='M130 200h140l-20 110h-100z' fill='{accent}'/><path d='M200 200c-10-60 30-90 60-100M200 200c0-50-40-80-70-80' stroke='#3d6b45' stroke-width='10' fill='none'/>"),
        _ => format!("<rect x='110' y='140' width='180' height='170' rx='24' fill='{accent}'/><path d='M110 180h180M110 270h180' stroke='#fff' stroke-opacity='.4' stroke-width='6'/>"),
    }
}

/// Splits a title into at most two lines of about 22 characters.
fn title_lines(title: &str) -> (String, String) {
    let mut first = String::new();
    let mut second = String::new();
    for word in title.split_whitespace() {
        if second.is_empty() && first.len() + word.len() < 22 {
            if !first.is_empty() {
                first.push(' ');
            }
            first.push_str(word);
        } else {
            if !second.is_empty() {
                second.push(' ');
            }
            second.push_str(word);
        }
    }
    (first, second)
}

/// The picture of one product.
pub fn product(p: &Product, category: usize) -> String {
    let (bg, accent) = PALETTE[category % PALETTE.len()];
    let (line1, line2) = title_lines(&p.title);
    format!(
        "<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 400 400' width='400' height='400'>\
         <rect width='400' height='400' fill='{bg}'/><circle cx='330' cy='70' r='40' fill='#fff' fill-opacity='.5'/>{shape}\
         <text x='200' y='355' font-family='Georgia, serif' font-size='22' text-anchor='middle' fill='#2b2925'>{l1}</text>\
         <text x='200' y='382' font-family='Georgia, serif' font-size='22' text-anchor='middle' fill='#2b2925'>{l2}</text></svg>",
        shape = shape(category, accent),
        l1 = html(&line1),
        l2 = html(&line2),
    )
}

/// The home page's hero picture.
pub fn hero() -> String {
    let mut s = String::from(
        "<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 520 280' width='520' height='280'>\
         <rect width='520' height='280' fill='#efe4d6'/><rect y='200' width='520' height='80' fill='#d9c7b0'/>\
         <circle cx='430' cy='70' r='36' fill='#f4ecd6'/>",
    );
    for (i, (_, accent)) in PALETTE.iter().enumerate() {
        let x = 40 + i as i32 * 78;
        let h = 60 + (i as i32 * 37) % 70;
        s.push_str(&format!(
            "<rect x='{x}' y='{}' width='56' height='{h}' rx='10' fill='{accent}'/>",
            200 - h
        ));
    }
    s.push_str("</svg>");
    s
}

/// The shop's favicon: an ampersand on a green tile.
pub fn favicon() -> String {
    "<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 32 32'><rect width='32' height='32' rx='7' fill='#2f5d50'/>\
     <text x='16' y='23' font-family='Georgia, serif' font-size='20' text-anchor='middle' fill='#fff'>&amp;</text></svg>"
        .into()
}
