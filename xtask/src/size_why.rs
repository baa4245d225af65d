//! `cargo xtask size --why [--json]`: what the bytes of each browser wasm module are spent on.
//!
//! The shipped modules carry no names, so each crate's wasm is run through the same steps as the
//! build (wasm-bindgen, wasm-opt -Oz) once more with the function names kept (`--keep-debug`,
//! `-g`); the names are read from the wasm's `name` section, each function body is attributed to
//! a group (our modules one by one, Rust's formatting and panic machinery, string and collection
//! code, the wasm-bindgen runtime, the allocator), and the rest of the module to imports, data
//! and tables. gzip works on the whole file, so the per-group gzip column is an estimate: the
//! group's share of the raw bytes times the shipped module's gzip size.

use std::collections::BTreeMap;
use std::fs;

use crate::build::MODULES;
use crate::size::gzip_len;
use crate::tools::{run, Tools};
use crate::Result;

/// One group of a module: its name and raw bytes.
struct Group {
    name: String,
    bytes: usize,
}

/// Prints, for the tracker and the widgets, each group's raw bytes, share and estimated gzip
/// bytes (or one JSON object per row with `--json`: module, group, raw_bytes, share,
/// gzip_bytes_estimate).
pub fn report(tools: &Tools, flags: &[String]) -> Result {
    let json = flags.iter().any(|f| f == "--json");
    let dir = tools.root.join("target/size-why");
    fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for (krate, name) in MODULES.into_iter().filter(|(_, n)| *n != "yespo") {
        let wasm = tools.root.join(format!(
            "target/wasm32-unknown-unknown/release/{krate}.wasm"
        ));
        run(tools
            .command(tools.cargo_bin.join("wasm-bindgen"))
            .arg(&wasm)
            .args(["--target", "web", "--no-typescript", "--keep-debug"])
            .args(["--out-name", name, "--out-dir"])
            .arg(&dir))?;
        let named = dir.join(format!("{name}_named.wasm"));
        run(tools
            .command(tools.npm_bin("wasm-opt"))
            .arg(dir.join(format!("{name}_bg.wasm")))
            .args(["-Oz", "-g", "--strip-target-features", "-o"])
            .arg(&named))?;
        let bytes = fs::read(&named).map_err(|e| format!("{}: {e}", named.display()))?;
        let groups = attribute(&bytes).ok_or("cannot read the wasm's sections")?;
        let shipped = crate::build::sdk_dir(tools).join(format!("{name}_bg.wasm"));
        let shipped = fs::read(&shipped).map_err(|e| format!("{}: {e}", shipped.display()))?;
        let gzip = gzip_len(&shipped);
        let total: usize = groups.iter().map(|g| g.bytes).sum();
        if !json {
            println!(
                "\n{name}_bg.wasm: {total} B raw after wasm-opt -Oz without names, shipped {} B raw, {gzip} B gzip -9",
                shipped.len()
            );
            println!(
                "{:<66} {:>8} {:>7} {:>10}",
                "group", "raw B", "share", "≈ gzip B"
            );
        }
        for g in &groups {
            let share = g.bytes as f64 / total as f64;
            let estimate = (share * gzip as f64).round();
            if json {
                println!(
                    "{{\"module\":{name:?},\"group\":{:?},\"raw_bytes\":{},\"share\":{share:.4},\"gzip_bytes_estimate\":{estimate}}}",
                    g.name, g.bytes
                );
            } else {
                println!(
                    "{:<66} {:>8} {:>6.1}% {:>10}",
                    g.name,
                    g.bytes,
                    share * 100.0,
                    estimate
                );
            }
        }
    }
    Ok(())
}

/// The group a function belongs to, from its (demangled) name.
fn group_of(function: &str) -> String {
    // `<alloc[hash]::string::String as core[hash]::fmt::Write>::write_str` → `alloc::string::…`
    let plain: String = {
        let mut out = String::new();
        let mut skipping = false;
        for c in function.trim_start_matches('<').chars() {
            match c {
                '[' => skipping = true,
                ']' => skipping = false,
                _ if !skipping => out.push(c),
                _ => {}
            }
        }
        out
    };
    // `<T as alloc::slice::…>::to_vec` → `alloc::slice::…`: the trait's crate.
    let plain = match plain.split_once(" as ") {
        Some((ty, tr)) if !ty.contains("::") => tr.to_string(),
        _ => plain,
    };
    let mut path: Vec<&str> = plain.split("::").collect();
    // The symbol hash (`h` and 16 hex digits) is not part of the path.
    if path.len() > 1
        && path.last().is_some_and(|last| {
            last.len() == 17
                && last.starts_with('h')
                && last[1..].bytes().all(|b| b.is_ascii_hexdigit())
        })
    {
        path.pop();
    }
    let fmt_or_panic = plain.contains("fmt::")
        || plain.contains("panic")
        || plain.starts_with("std::thread")
        || plain.starts_with("std::sys")
        || plain.starts_with("std::io");
    match path[..] {
        _ if fmt_or_panic => "Rust formatting and panics (core::fmt, std::panicking)".into(),
        [krate @ ("tracker_wasm" | "widgets"), module, _, ..]
            if module.chars().all(|c| c.is_ascii_lowercase() || c == '_') =>
        {
            format!("our code: {krate}::{module}")
        }
        [krate @ ("tracker_wasm" | "widgets"), ..] => format!("our code: {krate} (lib.rs)"),
        ["protocol" | "page_values", ..] => "our shared crates (protocol, page_values)".into(),
        ["core" | "alloc", "str" | "string" | "char" | "slice", ..] => {
            "Rust strings and slices (core::str, alloc::string)".into()
        }
        ["core" | "alloc" | "std", ..] => "Rust core and alloc (Vec, Option, RefCell, …)".into(),
        ["wasm_bindgen" | "js_sys" | "web_sys", ..] => {
            "wasm-bindgen and js-sys runtime (conversions, closures, tables)".into()
        }
        ["lol_alloc" | "__rustc", ..] => "allocator (lol_alloc)".into(),
        ["memcmp" | "memcpy" | "memset" | "memmove"] => {
            "Rust core and alloc (Vec, Option, RefCell, …)".into()
        }
        [""] => "unnamed functions".into(),
        // Exported functions and their shims (wasm-bindgen inlines the function into them).
        [_] => "exported functions and wasm-bindgen's shims for them".into(),
        _ => format!("other: {}", plain.chars().take(40).collect::<String>()),
    }
}

/// Raw bytes of `wasm` per group: function bodies by name, then the sections that are not code.
/// The `name` section itself (not shipped) is left out.
fn attribute(wasm: &[u8]) -> Option<Vec<Group>> {
    let imported = crate::build::wasm_imports(wasm)?.len();
    let mut at = 8; // magic and version
    let (mut import_bytes, mut bodies, mut names) = (0, Vec::new(), BTreeMap::new());
    let mut other: BTreeMap<&str, usize> = BTreeMap::new();
    while at < wasm.len() {
        let start = at;
        let id = wasm[at];
        at += 1;
        let size = leb(wasm, &mut at)?;
        let (content, end) = (at, at + size);
        let whole = end - start;
        match id {
            0 => {
                let mut p = content;
                let section = text(wasm, &mut p)?;
                if section == "name" {
                    names = function_names(wasm, p, end)?;
                } else {
                    *other.entry("custom sections").or_default() += whole;
                }
            }
            2 => import_bytes = whole,
            10 => {
                let mut p = content;
                let count = leb(wasm, &mut p)?;
                let mut shared = p - content + (content - start);
                for _ in 0..count {
                    let before = p;
                    let len = leb(wasm, &mut p)?;
                    p += len;
                    bodies.push(p - before);
                }
                shared += end - p;
                *other.entry("code section header").or_default() += shared;
            }
            11 => *other.entry("data (strings and constants)").or_default() += whole,
            _ => *other.entry("types, tables, exports, globals").or_default() += whole,
        }
        at = end;
    }
    let mut groups: BTreeMap<String, usize> = BTreeMap::new();
    for (i, bytes) in bodies.into_iter().enumerate() {
        let name = names.get(&(imported + i)).map(String::as_str).unwrap_or("");
        *groups.entry(group_of(name)).or_default() += bytes;
    }
    groups.insert(
        format!("imports ({imported} browser and JS functions)"),
        import_bytes,
    );
    for (name, bytes) in other {
        *groups.entry(name.to_string()).or_default() += bytes;
    }
    let mut list: Vec<Group> = groups
        .into_iter()
        .map(|(name, bytes)| Group { name, bytes })
        .collect();
    list.sort_by(|a, b| b.bytes.cmp(&a.bytes).then(a.name.cmp(&b.name)));
    Some(list)
}

/// The function names of a `name` section's content from `at` to `end` (subsection 1).
fn function_names(wasm: &[u8], mut at: usize, end: usize) -> Option<BTreeMap<usize, String>> {
    let mut names = BTreeMap::new();
    while at < end {
        let kind = wasm[at];
        at += 1;
        let size = leb(wasm, &mut at)?;
        let next = at + size;
        if kind == 1 {
            for _ in 0..leb(wasm, &mut at)? {
                let index = leb(wasm, &mut at)?;
                names.insert(index, text(wasm, &mut at)?);
            }
        }
        at = next;
    }
    Some(names)
}

/// An unsigned LEB128 number at `at` of a wasm binary, which moves past it.
pub fn leb(bytes: &[u8], at: &mut usize) -> Option<usize> {
    let (mut value, mut shift) = (0usize, 0);
    loop {
        let byte = *bytes.get(*at)?;
        *at += 1;
        value |= usize::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(value);
        }
        shift += 7;
    }
}

/// A length-prefixed UTF-8 string at `at` of a wasm binary, which moves past it.
pub fn text(bytes: &[u8], at: &mut usize) -> Option<String> {
    let len = leb(bytes, at)?;
    let out = String::from_utf8_lossy(bytes.get(*at..*at + len)?).into_owned();
    *at += len;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_by_crate_and_module() {
        assert_eq!(
            group_of("tracker_wasm::delivery::capture::h100de130239a8485"),
            "our code: tracker_wasm::delivery"
        );
        assert_eq!(
            group_of("<core[c5930c85a12de822]::fmt::Formatter>::pad"),
            "Rust formatting and panics (core::fmt, std::panicking)"
        );
        assert_eq!(
            group_of("<alloc[3ca501edff3f0c7c]::string::String>::push"),
            "Rust strings and slices (core::str, alloc::string)"
        );
        assert_eq!(
            group_of(
                "<T as alloc::slice::<impl [T]>::to_vec_in::ConvertVec>::to_vec::h9b1918a981b151ce"
            ),
            "Rust strings and slices (core::str, alloc::string)"
        );
        assert_eq!(
            group_of("tracker_wasm::command::h5502a86ea941f875"),
            "our code: tracker_wasm (lib.rs)"
        );
        assert_eq!(
            group_of("tracker_wasm::Settings::from_js::{{closure}}::h2d23"),
            "our code: tracker_wasm (lib.rs)"
        );
    }

    /// A hand-assembled module: two imported functions, two bodies (3 and 5 bytes with their
    /// size prefix), a name section naming the second body only.
    #[test]
    fn attributes_bodies_by_name_after_the_imports() {
        let mut wasm = b"\0asm\x01\0\0\0".to_vec();
        // import section: 2 imports "m"."a", "m"."b", both functions of type 0
        let imports = [2, 1, b'm', 1, b'a', 0, 0, 1, b'm', 1, b'b', 0, 0];
        wasm.extend([2, imports.len() as u8]);
        wasm.extend(imports);
        // code section: 2 bodies of 2 and 4 bytes
        let code = [2, 2, 0, 0x0b, 4, 0, 1, 1, 0x0b];
        wasm.extend([10, code.len() as u8]);
        wasm.extend(code);
        // name section, function names: index 3 (the second body) = "lol_alloc::x"
        let mut names = vec![4, b'n', b'a', b'm', b'e', 1];
        let sub = [1, 3, 12];
        names.push((sub.len() + 12) as u8);
        names.extend(sub);
        names.extend(b"lol_alloc::x");
        wasm.extend([0, names.len() as u8]);
        let names_len = names.len();
        wasm.extend(names);
        let groups = attribute(&wasm).unwrap();
        let of = |name: &str| groups.iter().find(|g| g.name == name).map(|g| g.bytes);
        assert_eq!(of("allocator (lol_alloc)"), Some(5));
        assert_eq!(of("unnamed functions"), Some(3));
        assert_eq!(
            of("imports (2 browser and JS functions)"),
            Some(2 + imports.len())
        );
        // The code section's own bytes: id, size, count.
        assert_eq!(of("code section header"), Some(3));
        assert_eq!(
            groups.iter().map(|g| g.bytes).sum::<usize>(),
            wasm.len() - 8 - 2 - names_len
        );
    }
}
