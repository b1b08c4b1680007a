//! `cargo run -p tollgate-tests --profile bench-fast --bin cluster_bench`: paid `tools/call`
//! throughput of 1 and of 3 replicas on one PostgreSQL, each behind HAProxy, in one run.
//! Needs `TOLLGATE_TEST_DATABASE=postgres://…` (a fresh database per cluster is created there).
//!
//! Settings: `BENCH_SECONDS` (per run, default 10), `BENCH_CLIENTS` (concurrent clients, each a
//! different paying user, default 16). Prints a Markdown table.

use anyhow::Context;
use serde_json::json;
use std::time::{Duration, Instant};
use tollgate::billing::{NewOffer, OfferKind};
use tollgate::wordpress::Operation;
use tollgate_tests::browser::OAuthClient;
use tollgate_tests::cluster::Cluster;
use tollgate_tests::fake_github::GitHubUser;
use tollgate_tests::{TestApp, TestOptions};

const TOOL: &str = "wporg_plugin_downloads";

fn call_body() -> String {
    json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
        "name": TOOL, "arguments": {"slug": "akismet"},
        "_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                  "io.modelcontextprotocol/clientCapabilities": {}}}})
    .to_string()
}

async fn post_call(http: &reqwest::Client, url: &str, token: &str) -> anyhow::Result<String> {
    Ok(http
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "tools/call")
        .header("mcp-name", TOOL)
        .bearer_auth(token)
        .body(call_body())
        .send()
        .await?
        .text()
        .await?)
}

/// Prices `TOOL` with a sandbox plan of many calls, and signs in `users` users who each buy it.
async fn paying_users(app: &TestApp, users: usize) -> anyhow::Result<Vec<String>> {
    let demo = app.state.tenants.get_tenant_by_slug("demo").await?;
    let offer = app
        .state
        .billing
        .create_offer(
            demo.id,
            NewOffer {
                name: "Bench".into(),
                kind: OfferKind::OneTime,
                price_id: "sandbox_bench".into(),
                amount: 100,
                currency: "usd".into(),
                interval: None,
                calls: Some(100_000_000),
                meter_event: None,
                meter_value: None,
                free_quota: None,
                spend_cap: None,
                payment_reason: None,
                success_url: None,
                past_due_grace_days: None,
            },
        )
        .await?;
    let tool = app
        .state
        .tenants
        .list_tools(demo.id)
        .await?
        .into_iter()
        .find(|t| t.operation == Operation::PluginDownloads)
        .context("the tool")?;
    app.state
        .billing
        .price_tool(&app.state.tenants, demo.id, tool.id, Some(offer.id))
        .await?;
    let http = reqwest::Client::new();
    let mut tokens = Vec::new();
    for i in 0..users {
        app.github.sign_in_as(GitHubUser {
            id: 10_000 + i64::try_from(i).unwrap_or_default(),
            login: format!("bench{i}"),
            name: None,
            email: None,
        });
        let tokens_json = OAuthClient::register(app, "demo").await.sign_in().await;
        let token = tokens_json["access_token"]
            .as_str()
            .context("a token")?
            .to_owned();
        let asked = post_call(&http, &app.mcp_url("demo"), &token).await?;
        let pay = asked
            .split("/t/demo/pay/")
            .nth(1)
            .and_then(|rest| rest.split(['"', ' ', '\\']).next())
            .context("a payment link")?;
        let page = http
            .get(format!("{}/t/demo/pay/{pay}", app.url))
            .send()
            .await?
            .text()
            .await?;
        let checkout = page
            .split("href=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .context("a checkout link")?
            .replace("&amp;", "&");
        // The checkout's form is bound to the browser that loaded it: pay as one browser does.
        let paid = tollgate_tests::browser::Browser::new()
            .pay_sandbox_checkout(&checkout)
            .await;
        anyhow::ensure!(paid.status == 200, "sandbox payment: HTTP {}", paid.status);
        tokens.push(token);
    }
    Ok(tokens)
}

/// Paid calls back to back from each user for `duration`; (successes, failures, seconds).
async fn drive(url: &str, tokens: &[String], duration: Duration) -> (usize, usize, f64) {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(tokens.len())
        .build()
        .unwrap_or_default();
    let deadline = Instant::now() + duration;
    let started = Instant::now();
    let tasks: Vec<_> = tokens
        .iter()
        .map(|token| {
            let (http, url, token) = (http.clone(), url.to_owned(), token.clone());
            tokio::spawn(async move {
                let (mut ok, mut failed) = (0, 0);
                while Instant::now() < deadline {
                    match post_call(&http, &url, &token).await {
                        Ok(body)
                            if body.contains("\"downloads\"")
                                && !body.contains("\"isError\":true") =>
                        {
                            ok += 1;
                        }
                        _ => failed += 1,
                    }
                }
                (ok, failed)
            })
        })
        .collect();
    let mut totals = (0, 0);
    for task in tasks {
        if let Ok((ok, failed)) = task.await {
            totals.0 += ok;
            totals.1 += failed;
        }
    }
    (totals.0, totals.1, started.elapsed().as_secs_f64())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let seconds: u64 = std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let clients: usize = std::env::var("BENCH_CLIENTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(16);
    anyhow::ensure!(
        std::env::var("TOLLGATE_TEST_DATABASE").is_ok_and(|d| d.starts_with("postgres")),
        "set TOLLGATE_TEST_DATABASE=postgres://…: the replicas share a PostgreSQL database"
    );
    println!("| replicas | clients (paying users) | paid calls/s | failed |");
    println!("|---:|---:|---:|---:|");
    for replicas in [1, 3] {
        let cluster = Cluster::start(
            replicas,
            TestOptions {
                // The limits still count every request (their cost is part of the figure) but never
                // refuse one: the load comes from one address and a few users.
                extra: vec![
                    ("TOLLGATE_LIMIT_MCP_ADDRESS".into(), "1000000000/60".into()),
                    ("TOLLGATE_LIMIT_MCP_USER".into(), "1000000000/60".into()),
                ],
                ..TestOptions::default()
            },
        )
        .await;
        let tokens = paying_users(cluster.app(), clients).await?;
        let url = cluster.app().mcp_url("demo");
        // Warm the upstream cache and every replica's tenant cache.
        drive(&url, &tokens, Duration::from_secs(1)).await;
        let (ok, failed, elapsed) = drive(&url, &tokens, Duration::from_secs(seconds)).await;
        println!(
            "| {replicas} | {clients} | {:.0} | {failed} |",
            ok as f64 / elapsed
        );
    }
    Ok(())
}
