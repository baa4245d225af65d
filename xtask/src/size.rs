//! `cargo xtask size`: what a shop page downloads, raw and gzipped, in one table.

use std::fs;
use std::io::Write;

use flate2::write::GzEncoder;
use flate2::Compression;

use crate::Result;

/// Bytes after gzip at its best compression (-9), as a server would send a static file.
pub fn gzip_len(bytes: &[u8]) -> usize {
    let mut enc = GzEncoder::new(Vec::new(), Compression::best());
    enc.write_all(bytes).expect("writing to memory");
    enc.finish().expect("writing to memory").len()
}

/// Bytes after brotli at its best quality (11, window 2^22), as CDNs serve static files.
pub fn brotli_len(bytes: &[u8]) -> usize {
    let mut out = Vec::new();
    let params = brotli::enc::BrotliEncoderParams {
        quality: 11,
        lgwin: 22,
        ..Default::default()
    };
    brotli::BrotliCompress(&mut &bytes[..], &mut out, &params).expect("writing to memory");
    out.len()
}

/// Prints the size table (or, with `--json`, one JSON object per row).
pub fn report(flags: &[String]) -> Result {
    let dir = crate::tools::root().join("target/site/orbita");
    // The tracker's own JavaScript modules (the outbox), imported by its glue.
    let mut tracker = vec!["tracker.js".to_string(), "tracker_bg.wasm".to_string()];
    // Likewise the widgets' (the browser half: blocks, forms, the web push flow).
    let mut widgets = vec!["widgets.js".to_string(), "widgets_bg.wasm".to_string()];
    for snippet in crate::build::snippets(&dir.join("snippets")) {
        let path = snippet.strip_prefix(&dir).map_err(|e| e.to_string())?;
        let path = path.to_string_lossy().into_owned();
        if path.starts_with("snippets/tracker-wasm-") {
            tracker.push(path);
        } else if path.starts_with("snippets/widgets-") {
            widgets.push(path);
        }
    }
    let tracker: Vec<&str> = tracker.iter().map(String::as_str).collect();
    let widgets: Vec<&str> = widgets.iter().map(String::as_str).collect();
    let groups: [(&str, &[&str]); 4] = [
        ("stub (script tag)", &["orbita.js"]),
        ("tracker (glue + wasm)", &tracker),
        ("widgets (glue + wasm + js, lazy)", &widgets),
        (
            "yespo layer (glue + wasm, opt-in)",
            &["yespo.js", "yespo_bg.wasm"],
        ),
    ];
    let mut rows = Vec::new();
    for (group, files) in groups {
        let (mut raw_total, mut gz_total) = (0, 0);
        for file in files {
            let bytes = fs::read(dir.join(file))
                .map_err(|e| format!("{file}: {e} (run cargo xtask build)"))?;
            let (raw, gz) = (bytes.len(), gzip_len(&bytes));
            raw_total += raw;
            gz_total += gz;
            rows.push((file.to_string(), raw, gz));
        }
        if files.len() > 1 {
            rows.push((format!("= {group}"), raw_total, gz_total));
        }
    }
    let total = &rows[tracker.len() + 1];
    let every_page = (rows[0].1 + total.1, rows[0].2 + total.2);
    rows.push((
        "= every page loads (stub + tracker)".into(),
        every_page.0,
        every_page.1,
    ));
    if flags.iter().any(|f| f == "--json") {
        for (name, raw, gz) in &rows {
            println!("{{\"artifact\":{name:?},\"raw_bytes\":{raw},\"gzip_bytes\":{gz}}}");
        }
    } else {
        println!("{:<40} {:>10} {:>10}", "artifact", "raw B", "gzip -9 B");
        for (name, raw, gz) in &rows {
            println!("{name:<40} {raw:>10} {gz:>10}");
        }
    }
    Ok(())
}
