//! Building what the collector serves: the SDK (stub, tracker, widgets), the demo site and the
//! worker itself.

use std::fs;
use std::path::PathBuf;

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
        run(tools
            .command(tools.npm_bin("wasm-opt"))
            .arg(raw.join(format!("{name}_bg.wasm")))
            .args(["-Oz", "-o"])
            .arg(out.join(format!("{name}_bg.wasm"))))?;
        minify(
            tools,
            &raw.join(format!("{name}.js")),
            &out.join(format!("{name}.js")),
        )?;
    }
    for snippet in snippets(&raw.join("snippets")) {
        let to = out.join(snippet.strip_prefix(&raw).map_err(|e| e.to_string())?);
        minify(tools, &snippet, &to)?;
    }
    minify(
        tools,
        &tools.root.join("tracker-wasm/js/orbita.js"),
        &out.join("orbita.js"),
    )
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
fn minify(tools: &Tools, from: &std::path::Path, to: &std::path::Path) -> Result {
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
