//! Interop with the official MCP Python SDK: it signs in through Tollgate and GitHub, then calls a tool.

use serde_json::Value;
use std::io::Read;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;
use tollgate_tests::TestApp;

/// The script that drives the SDK (see its docstring).
const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/python/oauth_tool_call.py");

/// An upper bound on one run of the script, not a synchronisation: it normally takes seconds.
pub(crate) const SCRIPT_BOUND: Duration = Duration::from_secs(120);

/// What to tell whoever runs the tests when the SDK is not there.
const HOW_TO_INSTALL: &str = "run scripts/test, which creates the Python venv with \
    tests/python/setup-venv.sh and points TOLLGATE_PYTHON at it (or run that script yourself \
    and export TOLLGATE_PYTHON=<the python it prints>)";

/// The interpreter the tests use: `TOLLGATE_PYTHON`, else `python3`.
pub(crate) fn python() -> String {
    std::env::var("TOLLGATE_PYTHON")
        .ok()
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "python3".into())
}

/// A finished child process.
pub(crate) struct Finished {
    pub(crate) status: ExitStatus,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

/// Kills the child if it is still owned when dropped (a time-out, or a panicking test).
struct KillOnDrop(Option<Child>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn read_all(mut pipe: impl Read + Send + 'static) -> tokio::task::JoinHandle<String> {
    tokio::task::spawn_blocking(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// Runs `program args…` to completion, killing it past `bound`. Its output is read on blocking
/// threads; the pipes close when it exits, which is what the wait is on.
pub(crate) async fn run(program: &str, args: &[&str], bound: Duration) -> Result<Finished, String> {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {program}: {e}"))?;
    let stdout = read_all(child.stdout.take().ok_or("stdout is piped")?);
    let stderr = read_all(child.stderr.take().ok_or("stderr is piped")?);
    let mut guard = KillOnDrop(Some(child));
    let outputs = async { (stdout.await, stderr.await) };
    tokio::pin!(outputs);
    let Ok((stdout, stderr)) = tokio::time::timeout(bound, &mut outputs).await else {
        drop(guard);
        let (_, stderr) = outputs.await;
        return Err(format!(
            "{program} was still running after {bound:?} and was killed; stderr:\n{}",
            stderr.unwrap_or_default()
        ));
    };
    let mut child = guard.0.take().ok_or("the child is still owned")?;
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("waiting for {program}: {e}"))?;
    Ok(Finished {
        status,
        stdout: stdout.unwrap_or_default(),
        stderr: stderr.unwrap_or_default(),
    })
}

/// Fails the test, with directions, unless `python` can import the SDK.
pub(crate) async fn require_the_sdk(python: &str) {
    let check = "import mcp.client.auth, mcp.client.streamable_http, httpx2";
    match run(python, &["-c", check], SCRIPT_BOUND).await {
        Ok(done) if done.status.success() => {}
        Ok(done) => panic!(
            "the MCP Python SDK is not installed for {python} (TOLLGATE_PYTHON): {HOW_TO_INSTALL}.\n{}",
            done.stderr
        ),
        Err(e) => panic!("{e}: {HOW_TO_INSTALL}"),
    }
}

#[tokio::test]
async fn python_sdk_client_signs_in_through_github_and_calls_a_tool() {
    let app = TestApp::spawn().await;
    app.require_sign_in("demo").await;
    let python = python();
    require_the_sdk(&python).await;

    let mcp_url = app.mcp_url("demo");
    let done = run(
        &python,
        &[SCRIPT, &mcp_url, "wporg_theme_tags", r#"{"number":3}"#],
        SCRIPT_BOUND,
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        done.status.success(),
        "the Python SDK client failed ({}).\nstderr:\n{}\nstdout:\n{}",
        done.status,
        done.stderr,
        done.stdout
    );
    let line = done
        .stdout
        .lines()
        .rev()
        .find(|line| line.trim_start().starts_with('{'))
        .unwrap_or_else(|| panic!("no JSON line on stdout:\n{}", done.stdout));
    let outcome: Value = serde_json::from_str(line).expect("the script prints JSON");

    let tools: Vec<&str> = outcome["tools"]
        .as_array()
        .map(|names| names.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    assert!(tools.contains(&"wporg_query_themes"), "{tools:?}");
    assert!(tools.contains(&"wporg_theme_tags"), "{tools:?}");
    assert_eq!(outcome["is_error"], false, "{outcome}");
    let tags = outcome["structured"]["tags"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(tags.len(), 3, "{outcome}");
    assert!(tags.iter().all(|t| t["slug"].is_string()), "{outcome}");

    // The person signed in through GitHub, once.
    assert_eq!(app.github.token_requests(), 1);
    let users = app.end_users("demo").await;
    assert_eq!(users.len(), 1, "{users:?}");
    assert_eq!(users[0].login, "octocat");
    // Tollgate talked to GitHub only with GitHub's token, never with one of its own.
    let seen = app.github.bearer_tokens_seen();
    assert!(!seen.is_empty(), "Tollgate read the user from GitHub's API");
    assert!(
        seen.iter().all(|value| !value.contains("tgmcp_")),
        "a Tollgate token reached GitHub: {seen:?}"
    );
    app.stop().await;
}
