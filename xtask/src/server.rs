//! Running the collector under `wrangler dev` (workerd + local D1): migrations, start, readiness,
//! feed import, and a stop that leaves no workerd behind.

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::sleep;
use std::time::{Duration, Instant};

use crate::http::request;
use crate::tools::{run, Tools};
use crate::Result;

/// The demo site's public write key (also in edge-collector/wrangler.toml and the README).
pub const DEMO_WRITE_KEY: &str = demo_site::DEMO_WRITE_KEY;
/// The demo site's admin key (also in edge-collector/wrangler.toml and the README).
pub const DEMO_ADMIN_KEY: &str = "demo-admin-key";
/// The demo site's server key, for backends (also in edge-collector/wrangler.toml and the README).
pub const DEMO_SERVER_KEY: &str = "demo-server-key";

/// An origin the end-to-end tests' collector admits besides its own (see tests/e2e).
pub const TEST_PARTNER_ORIGIN: &str = "http://partner.test";

/// How long a cold start may take before we give up (measured: ~6 s warm, ~45 s cold).
const START_TIMEOUT: Duration = Duration::from_secs(180);

/// A free TCP port on the loopback interface.
pub fn free_port() -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free port: {e}"))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| e.to_string())
}

/// A free loopback port below the kernel's ephemeral range (32768 and up here), for a server
/// restarted on the same port while clients keep connecting to it: a client's own connection
/// can take an ephemeral port (even connect to itself on it while nothing listens), and then the
/// restarted server cannot bind it.
pub fn free_port_outside_ephemeral() -> Result<u16> {
    let start = 20_000 + (std::process::id() % 10_000) as u16;
    (start..32_000)
        .chain(20_000..start)
        .find(|p| TcpListener::bind(("127.0.0.1", *p)).is_ok())
        .ok_or_else(|| "no free port between 20000 and 32000".into())
}

/// Has `start` or `start_in` write the workerd config that wrangler dev generates to `json`
/// (miniflare's `MINIFLARE_WORKERD_CONFIG_DEBUG`), then turns it into a binary config for
/// `start_workerd` at `binary`, wired straight to the worker (bench/workerd-config.mjs).
pub fn dump_workerd_config(
    tools: &Tools,
    json: &Path,
    binary: &Path,
    start: impl FnOnce() -> Result<Collector>,
) -> Result {
    std::env::set_var("MINIFLARE_WORKERD_CONFIG_DEBUG", json);
    let started = start();
    std::env::remove_var("MINIFLARE_WORKERD_CONFIG_DEBUG");
    started?.stop()?;
    run(tools
        .command(&tools.node)
        .arg(tools.root.join("bench/workerd-config.mjs"))
        .arg(json)
        .arg(binary))
}

/// A running `wrangler dev` or `workerd`, with its own process group.
pub struct Collector {
    child: Option<Child>,
    port: u16,
}

fn wrangler(tools: &Tools) -> (PathBuf, PathBuf) {
    (
        tools.node.clone(),
        tools.root.join("node_modules/wrangler/bin/wrangler.js"),
    )
}

impl Collector {
    /// Applies the D1 migrations to `state`, starts `wrangler dev` on `127.0.0.1:port` with that
    /// state, and waits until the collector answers.
    /// `vars` override settings of wrangler.toml (`--var NAME:VALUE`).
    pub fn start(
        tools: &Tools,
        port: u16,
        state: &Path,
        quiet: bool,
        vars: &[(&str, &str)],
    ) -> Result<Self> {
        let (node, script) = wrangler(tools);
        let dir = tools.root.join("edge-collector");
        run(tools
            .command(&node)
            .arg(&script)
            .args(["d1", "migrations", "apply", "DB", "--local", "--persist-to"])
            .arg(state)
            .env("CI", "true")
            .stdin(Stdio::null())
            // Progress, not results: stdout stays free for tables and `--json` rows.
            .stdout(std::io::stderr())
            .current_dir(&dir))?;
        Self::start_in(tools, &dir, port, state, quiet, vars)
    }

    /// Starts `wrangler dev` for the worker in `dir` (its wrangler.toml), without migrations.
    pub fn start_in(
        tools: &Tools,
        dir: &Path,
        port: u16,
        state: &Path,
        quiet: bool,
        vars: &[(&str, &str)],
    ) -> Result<Self> {
        let (node, script) = wrangler(tools);
        let mut cmd = tools.command(&node);
        cmd.arg(&script)
            .args(["dev", "--ip", "127.0.0.1", "--port", &port.to_string()])
            .args([
                "--inspector-port",
                &free_port()?.to_string(),
                "--persist-to",
            ])
            .arg(state)
            .args(["--log-level", if quiet { "warn" } else { "info" }])
            .args(
                vars.iter()
                    .flat_map(|(k, v)| ["--var".to_string(), format!("{k}:{v}")]),
            )
            .current_dir(dir);
        Self::spawn(cmd, port, "wrangler dev")
    }

    /// Runs `workerd serve` directly on `config` (a binary config made by `dump_workerd_config`),
    /// without wrangler's proxy in front: the runtime as a deployment would run it.
    pub fn start_workerd(tools: &Tools, config: &Path, port: u16) -> Result<Self> {
        let mut cmd = tools.command(tools.root.join("node_modules/workerd/bin/workerd"));
        cmd.args(["serve", "--binary", "--experimental"])
            .arg(format!("--socket-addr=entry=127.0.0.1:{port}"))
            // The dev registry's loopback service, unused here: point it at a closed port.
            .arg(format!(
                "--external-addr=loopback=127.0.0.1:{}",
                free_port()?
            ))
            .arg(config);
        Self::spawn(cmd, port, "workerd")
    }

    /// Starts `cmd` and waits until `GET /v1/health` on `port` answers.
    fn spawn(mut cmd: Command, port: u16, what: &str) -> Result<Self> {
        // Its own process group, so stopping it stops what it started (wrangler's workerd).
        // Progress, not results: stdout stays free for tables and `--json` rows.
        cmd.stdin(Stdio::null())
            .stdout(std::io::stderr())
            .process_group(0);
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {what}: {e}"))?;
        let mut collector = Collector {
            child: Some(child),
            port,
        };
        let started = Instant::now();
        loop {
            if let Ok((200 | 204, _)) = request(port, "GET", "/v1/health", &[], b"") {
                eprintln!(
                    "collector: {what} up on port {port} after {:.1} s",
                    started.elapsed().as_secs_f64()
                );
                return Ok(collector);
            }
            if let Some(status) = collector
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                return Err(format!("{what} exited before it answered ({status})"));
            }
            if started.elapsed() > START_TIMEOUT {
                collector.kill_group();
                return Err(format!("{what} did not answer within {START_TIMEOUT:?}"));
            }
            sleep(Duration::from_millis(250));
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Imports the demo shop's product feed through the admin endpoint.
    pub fn load_demo_feed(&self) -> Result {
        let auth = format!("Bearer {DEMO_ADMIN_KEY}");
        let headers = [
            ("Authorization", auth.as_str()),
            ("Content-Type", "application/xml"),
        ];
        let (status, body) = request(
            self.port,
            "POST",
            "/v1/admin/catalogue",
            &headers,
            demo_site::FEED_XML.as_bytes(),
        )?;
        if status != 200 {
            return Err(format!("feed import answered {status}: {body}"));
        }
        eprintln!("collector: demo feed imported: {body}");
        Ok(())
    }

    /// Stores the demo shop's widgets (`demo-site/site-config.json`) as the site configuration.
    pub fn load_demo_site_config(&self) -> Result {
        let auth = format!("Bearer {DEMO_ADMIN_KEY}");
        let headers = [
            ("Authorization", auth.as_str()),
            ("Content-Type", "application/json"),
        ];
        let (status, body) = request(
            self.port,
            "PUT",
            "/v1/admin/site-config",
            &headers,
            demo_site::SITE_CONFIG_JSON.as_bytes(),
        )?;
        if status != 200 {
            return Err(format!("site configuration answered {status}: {body}"));
        }
        eprintln!("collector: demo site configuration stored: {body}");
        Ok(())
    }

    /// Serves until `interrupted` is set or wrangler exits, then stops.
    pub fn wait_until(mut self, interrupted: &Arc<AtomicBool>) -> Result {
        while !interrupted.load(Ordering::SeqCst) {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                self.child = None;
                return Err(format!("wrangler dev exited ({status})"));
            }
            sleep(Duration::from_millis(200));
        }
        eprintln!("\nstopping the collector...");
        self.stop()
    }

    /// Stops wrangler and every process it started (workerd), and checks none is left.
    pub fn stop(mut self) -> Result {
        self.kill_group();
        Ok(())
    }

    /// Kills wrangler and workerd with SIGKILL, as a crash or an OOM kill would: no shutdown.
    pub fn crash(mut self) {
        self.end_group(libc::SIGKILL);
    }

    fn kill_group(&mut self) {
        // SIGINT first: wrangler shuts workerd down itself.
        self.end_group(libc::SIGINT);
    }

    /// Sends `signal` to wrangler's process group, waits up to 10 s for it to end, SIGKILLs
    /// whatever remains, and waits (again bounded) until no process of the group is left.
    fn end_group(&mut self, signal: libc::c_int) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let group = -(child.id() as i32);
        let wait_for_group = |child: &mut Child| {
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline && group_alive(group) {
                let _ = child.try_wait();
                sleep(Duration::from_millis(50));
            }
        };
        unsafe { libc::kill(group, signal) };
        wait_for_group(&mut child);
        if group_alive(group) {
            unsafe { libc::kill(group, libc::SIGKILL) };
        }
        let _ = child.wait();
        wait_for_group(&mut child);
    }
}

/// Whether any process of the group is still alive.
fn group_alive(group: i32) -> bool {
    // kill(pid, 0) checks for existence without sending anything.
    unsafe { libc::kill(group, 0) == 0 }
}

impl Drop for Collector {
    fn drop(&mut self) {
        self.kill_group();
    }
}
