//! Building what the collector serves: the SDK (stub, tracker, widgets), the demo site and the
//! worker itself.

use std::fs;
use std::path::{Path, PathBuf};

use crate::tools::{run, Tools};
use crate::Result;

/// A browser module: the crate's wasm file name and the name it is served under.
pub const MODULES: [(&str, &str); 3] = [
    ("tracker_wasm", "tracker"),
    ("widgets", "widgets"),
    ("tracker_yespo", "yespo"),
];

/// The browser crates, for cargo: built for the web and tested in headless Chromium.
pub const BROWSER: &[&str] = &[
    "--target",
    "wasm32-unknown-unknown",
    "-p",
    "tracker-wasm",
    "-p",
    "widgets",
    "-p",
    "tracker-yespo",
];

/// Where the site (and the SDK inside it, under `orbita/`) is generated.
pub fn site_dir(tools: &Tools) -> PathBuf {
    tools.root.join("target/site")
}

/// Where the SDK files are served from.
pub fn sdk_dir(tools: &Tools) -> PathBuf {
    site_dir(tools).join("orbita")
}

/// Builds everything: demo site, SDK, worker.
pub fn all(tools: &Tools) -> Result {
    site(tools)?;
    sdk(tools)?;
    worker(tools)
}

/// Generates the demo shop from its feed.
pub fn site(tools: &Tools) -> Result {
    let dir = site_dir(tools);
    let _ = fs::remove_dir_all(&dir);
    let summary = demo_site::build(&dir).map_err(|e| format!("demo site: {e}"))?;
    eprintln!(
        "build: demo site with {} pages, {} products in {} categories",
        summary.pages, summary.products, summary.categories
    );
    Ok(())
}

/// Builds the stub, tracker and widgets into `target/site/orbita/`: release wasm, wasm-bindgen
/// for ES modules, then wasm-opt -Oz (npm binaryen).
pub fn sdk(tools: &Tools) -> Result {
    tools.cargo(&[&["build", "--release"], BROWSER].concat())?;
    let out = sdk_dir(tools);
    let raw = tools.root.join("target/sdk-bindgen");
    fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    // JavaScript modules a crate imports (`#[wasm_bindgen(module = ...)]`) land in `snippets/`.
    let _ = fs::remove_dir_all(raw.join("snippets"));
    for (krate, name) in MODULES {
        let wasm = tools.root.join(format!(
            "target/wasm32-unknown-unknown/release/{krate}.wasm"
        ));
        run(tools
            .command(tools.cargo_bin.join("wasm-bindgen"))
            .arg(&wasm)
            .args([
                "--target",
                "web",
                "--no-typescript",
                "--remove-name-section",
                "--remove-producers-section",
            ])
            .args(["--out-name", name, "--out-dir"])
            .arg(&raw))?;
        let glue = raw.join(format!("{name}.js"));
        optimise(
            tools,
            &raw.join(format!("{name}_bg.wasm")),
            &out.join(format!("{name}_bg.wasm")),
            &glue,
        )?;
        minify(tools, &glue, &out.join(format!("{name}.js")))?;
    }
    for snippet in snippets(&raw.join("snippets")) {
        let to = out.join(snippet.strip_prefix(&raw).map_err(|e| e.to_string())?);
        minify(tools, &snippet, &to)?;
    }
    minify(
        tools,
        &tools.root.join("tracker-wasm/js/orbita.js"),
        &out.join("orbita.js"),
    )?;
    // The ES module for front-end code, and its TypeScript types beside it.
    minify(
        tools,
        &tools.root.join("tracker-wasm/js/orbita.mjs"),
        &out.join("orbita.mjs"),
    )?;
    let types = out.join("orbita.d.mts");
    fs::copy(tools.root.join("tracker-wasm/js/orbita.d.mts"), &types)
        .map(|_| ())
        .map_err(|e| format!("{}: {e}", types.display()))
}

/// wasm-opt -Oz, then short names for the module's imports, exports and import module
/// (wasm-bindgen names them like `__wbg_cookie_d2fddf0073ea44a9`: about 90 hashed names, each in
/// the wasm and again in the glue, which compress badly). wasm-opt prints the renaming of imports
/// and exports as JSON; the module name it picks is read back from the wasm. The same renaming is
/// applied to the glue (`glue`, rewritten in place), the only code that uses these names: keys of
/// the import object, `wasm.EXPORT`, and the import module's name.
fn optimise(tools: &Tools, from: &Path, to: &Path, glue: &Path) -> Result {
    let out = tools
        .command(tools.npm_bin("wasm-opt"))
        .arg(from)
        .args([
            "-Oz",
            "--minify-imports-and-exports-and-modules",
            "--strip-target-features",
            "-o",
        ])
        .arg(to)
        .output()
        .map_err(|e| format!("cannot run wasm-opt: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "wasm-opt {} failed: {}",
            from.display(),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let wasm = fs::read(to).map_err(|e| format!("{}: {e}", to.display()))?;
    let imports = wasm_imports(&wasm).ok_or("cannot read the wasm's import section")?;
    let text = fs::read_to_string(glue).map_err(|e| format!("{}: {e}", glue.display()))?;
    let (text, snippet_renames) = rename(&text, &String::from_utf8_lossy(&out.stdout), &imports)?;
    let dir = glue.parent().ok_or("the glue has no directory")?;
    rename_snippet_exports(dir, &snippet_renames)?;
    fs::write(glue, text).map_err(|e| format!("{}: {e}", glue.display()))
}

/// A renamed import of one of the crate's JavaScript modules: (module, old name, new name).
type SnippetRename = (String, String, String);

/// Applies wasm-opt's renaming (`["module", "import", "new"]` and `["export", "new"]` lines of
/// its JSON) to wasm-bindgen's glue; `imports` are the (module, name) pairs of the renamed wasm.
/// Imports from the crate's own JavaScript modules (`./snippets/...`) are renamed where they are
/// defined: returned as (module, old name, new name) for `rename_snippet_exports`.
fn rename(
    glue: &str,
    renaming: &str,
    imports: &[(String, String)],
) -> Result<(String, Vec<SnippetRename>)> {
    let mut glue = glue.to_string();
    let mut modules: Vec<(String, String)> = Vec::new();
    let mut snippet_renames = Vec::new();
    for line in renaming.lines() {
        // The quoted strings of the line; these names never contain quotes.
        let parts: Vec<&str> = line.split('"').skip(1).step_by(2).collect();
        match parts[..] {
            [module, import, new] => {
                let renamed_module = imports
                    .iter()
                    .find(|(_, name)| name == new)
                    .map(|(m, _)| m.clone())
                    .ok_or_else(|| format!("wasm-opt's import {new:?} is not in the wasm"))?;
                if !modules.iter().any(|(old, _)| old == module) {
                    modules.push((module.to_string(), renamed_module));
                }
                if module.starts_with("./snippets/") {
                    snippet_renames.push((module.to_string(), import.to_string(), new.to_string()));
                } else {
                    glue = replace_word(&glue, "", import, new);
                }
            }
            [export, new] => glue = replace_word(&glue, "wasm.", export, new),
            _ => {}
        }
    }
    // wasm-opt gives every import the same new module: the crate's own modules' namespaces are
    // merged into the glue's import object for it (their renamed exports never clash).
    glue = merge_snippet_namespaces(&glue, &modules);
    // Keys of the import object; `import ... from "./snippets/..."` lines keep their paths.
    for (old, new) in &modules {
        glue = glue.replace(&format!("\"{old}\":"), &format!("\"{new}\":"));
    }
    // Every import but those of the crate's own modules must now be a key of the glue's import
    // object.
    if let Some((_, missing)) = imports.iter().find(|(module, name)| {
        !module.starts_with("./snippets/")
            && !snippet_renames.iter().any(|(_, _, new)| new == name)
            && !glue.contains(&format!("{name}: function"))
    }) {
        return Err(format!("the glue lacks the renamed import {missing:?}"));
    }
    Ok((glue, snippet_renames))
}

/// Removes the import object's entries for `./snippets/...` modules (`"./snippets/m.js": import1,`)
/// and folds their namespaces into the glue's own module's entry
/// (`"./tracker_bg.js": Object.assign({}, import1, import0),`).
fn merge_snippet_namespaces(glue: &str, modules: &[(String, String)]) -> String {
    let Some((own, _)) = modules
        .iter()
        .find(|(old, _)| !old.starts_with("./snippets/"))
    else {
        return glue.to_string();
    };
    let mut namespaces = Vec::new();
    let mut lines = Vec::new();
    for line in glue.lines() {
        let entry = line.trim();
        let snippet = modules
            .iter()
            .filter(|(old, _)| old.starts_with("./snippets/"))
            .find_map(|(old, _)| entry.strip_prefix(&format!("\"{old}\": ")));
        match snippet {
            Some(value) => namespaces.push(value.trim_end_matches(',').to_string()),
            None => lines.push(line.to_string()),
        }
    }
    if namespaces.is_empty() {
        return glue.to_string();
    }
    let key = format!("\"{own}\": ");
    for line in &mut lines {
        if let Some(at) = line.find(&key) {
            let value = line[at + key.len()..].trim_end_matches(',').to_string();
            let merged = format!("Object.assign({{}}, {}, {value})", namespaces.join(", "));
            *line = format!("{}{key}{merged},", &line[..at]);
        }
    }
    let mut out = lines.join("\n");
    if glue.ends_with('\n') {
        out.push('\n');
    }
    out
}

/// Renames the exports of the crate's JavaScript modules that the wasm imports directly
/// (`export function old(` becomes `export function new(`); `dir` holds the glue.
fn rename_snippet_exports(dir: &Path, renames: &[SnippetRename]) -> Result {
    for (module, old, new) in renames {
        let path = dir.join(module.trim_start_matches("./"));
        let text = fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let from = format!("export function {old}(");
        if !text.contains(&from) {
            return Err(format!(
                "{} does not define `{from}` (the wasm imports it)",
                path.display()
            ));
        }
        let text = text.replace(&from, &format!("export function {new}("));
        fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}

/// Replaces `prefix` + `word` by `prefix` + `new` where `word` is a whole identifier.
fn replace_word(text: &str, prefix: &str, word: &str, new: &str) -> String {
    let is_ident = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '$';
    let needle = format!("{prefix}{word}");
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(&needle) {
        let before = rest[..at].chars().next_back().or(out.chars().next_back());
        let after = rest[at + needle.len()..].chars().next();
        out.push_str(&rest[..at]);
        let whole =
            (!prefix.is_empty() || !before.is_some_and(is_ident)) && !after.is_some_and(is_ident);
        if whole {
            out.push_str(prefix);
            out.push_str(new);
        } else {
            out.push_str(&needle);
        }
        rest = &rest[at + needle.len()..];
    }
    out.push_str(rest);
    out
}

/// The (module, name) pairs of a wasm binary's import section.
pub fn wasm_imports(wasm: &[u8]) -> Option<Vec<(String, String)>> {
    use crate::size_why::{leb, text as name};
    let mut at = 8; // magic and version
    while at < wasm.len() {
        let id = wasm[at];
        at += 1;
        let size = leb(wasm, &mut at)?;
        if id != 2 {
            at += size;
            continue;
        }
        let mut imports = Vec::new();
        for _ in 0..leb(wasm, &mut at)? {
            let module = name(wasm, &mut at)?;
            let field = name(wasm, &mut at)?;
            // The import's description: kind, then a type index, table, memory or global type.
            match wasm.get(at)? {
                0 => {
                    at += 1;
                    leb(wasm, &mut at)?;
                }
                _ => return None, // wasm-bindgen modules import only functions
            }
            imports.push((module, field));
        }
        return Some(imports);
    }
    Some(Vec::new())
}

/// Every JavaScript file under `dir` (wasm-bindgen's snippets), at any depth.
pub fn snippets(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(snippets(&path));
        } else if path.extension().is_some_and(|e| e == "js") {
            found.push(path);
        }
    }
    found.sort();
    found
}

/// Minifies JavaScript with esbuild (the pinned copy wrangler brings): the wasm-bindgen glue and
/// the stub are downloaded by every shop page, so their bytes count.
fn minify(tools: &Tools, from: &Path, to: &Path) -> Result {
    run(tools
        .command(
            tools
                .root
                .join("node_modules/@esbuild/linux-x64/bin/esbuild"),
        )
        .arg(from)
        .args(["--minify", "--log-level=warning", "--legal-comments=none"])
        .arg(format!("--outfile={}", to.display())))
}

/// Builds the worker with worker-build (which uses the pinned wasm-bindgen, wasm-opt and esbuild
/// from the environment instead of downloading them).
pub fn worker(tools: &Tools) -> Result {
    run(tools
        .command(tools.cargo_bin.join("worker-build"))
        .arg("--release")
        .current_dir(tools.root.join("edge-collector")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_identifiers_only_are_renamed() {
        let glue = "wasm.start(); wasm.started(); x.start(); __wbg_a_1: function(){}, __wbg_a_12: function(){}";
        assert_eq!(
            replace_word(glue, "wasm.", "start", "Ra"),
            "wasm.Ra(); wasm.started(); x.start(); __wbg_a_1: function(){}, __wbg_a_12: function(){}"
        );
        assert_eq!(
            replace_word(glue, "", "__wbg_a_1", "b"),
            "wasm.start(); wasm.started(); x.start(); b: function(){}, __wbg_a_12: function(){}"
        );
    }

    #[test]
    fn reads_the_import_section() {
        // magic, version; a custom section to skip; an import section with two function imports.
        let mut wasm = b"\0asm\x01\0\0\0".to_vec();
        wasm.extend([0, 3, 1, b'x', 7]);
        wasm.extend([
            2, 14, 2, 1, b'a', 1, b'b', 0, 0, 1, b'a', 2, b'c', b'd', 0, 5,
        ]);
        let imports = wasm_imports(&wasm).unwrap();
        assert_eq!(
            imports,
            [("a".into(), "b".into()), ("a".into(), "cd".into())]
        );
    }

    #[test]
    fn the_glue_gets_the_same_names_as_the_wasm() {
        let glue = "const import0 = { __wbg_cookie_d2: function(arg0) { return arg0.cookie; } };\n\
                    return { \"./tracker_bg.js\": import0 };\nwasm.__wbindgen_malloc(1); wasm.start();";
        let renaming = "{\n \"imports\": [\n  [\"./tracker_bg.js\", \"__wbg_cookie_d2\", \"c\"],\n ],\n\
                        \"exports\": [\n  [\"__wbindgen_malloc\", \"Ya\"],\n  [\"start\", \"Ra\"],\n ]\n}";
        let imports = [("a".to_string(), "c".to_string())];
        assert_eq!(
            rename(glue, renaming, &imports).unwrap().0,
            "const import0 = { c: function(arg0) { return arg0.cookie; } };\n\
             return { \"a\": import0 };\nwasm.Ya(1); wasm.Ra();"
        );
        // An import the glue does not define means the renaming went wrong: fail the build.
        let more = [imports[0].clone(), ("a".to_string(), "zz".to_string())];
        assert!(rename(glue, renaming, &more).is_err());
    }

    #[test]
    fn imports_from_the_crates_own_modules_are_renamed_where_they_are_defined() {
        let glue = "import * as import1 from \"./snippets/t-1/js/outbox.js\"\n\
                    const import0 = { __wbg_x_1: function() {} };\n\
                    return {\n  \"./tracker_bg.js\": import0,\n  \"./snippets/t-1/js/outbox.js\": import1,\n};";
        let renaming = "[\"./tracker_bg.js\", \"__wbg_x_1\", \"c\"],\n\
                        [\"./snippets/t-1/js/outbox.js\", \"save\", \"d\"],";
        let imports = [
            ("a".to_string(), "c".to_string()),
            ("a".to_string(), "d".to_string()),
        ];
        let (glue, renames) = rename(glue, renaming, &imports).unwrap();
        // The import statement keeps its path; the module's namespace joins the import object's
        // one entry, under the new module name.
        assert_eq!(
            glue,
            "import * as import1 from \"./snippets/t-1/js/outbox.js\"\n\
             const import0 = { c: function() {} };\n\
             return {\n  \"a\": Object.assign({}, import1, import0),\n};"
        );
        assert_eq!(
            renames,
            [(
                "./snippets/t-1/js/outbox.js".into(),
                "save".into(),
                "d".into()
            )]
        );
        let dir = std::env::temp_dir().join(format!("orbita-rename-{}", std::process::id()));
        let file = dir.join("snippets/t-1/js/outbox.js");
        fs::create_dir_all(file.parent().unwrap()).unwrap();
        fs::write(
            &file,
            "export function save(list) {}\nexport function saved() {}",
        )
        .unwrap();
        rename_snippet_exports(&dir, &renames).unwrap();
        assert_eq!(
            fs::read_to_string(&file).unwrap(),
            "export function d(list) {}\nexport function saved() {}"
        );
        // A renamed import the module does not export fails the build.
        assert!(rename_snippet_exports(&dir, &renames).is_err());
        fs::remove_dir_all(dir).unwrap();
    }
}
