//! `cargo run -p tollgate-tests --profile bench-fast --bin bench`: measures cached `tools/call`
//! throughput and latency against the real server, beside a bare axum JSON-RPC echo as the
//! ceiling, at 1, 16 and 64 concurrent clients; then what opening the dashboard costs, plain
//! files against gzipped ones and a reload. Prints Markdown tables.
//!
//! Settings: `BENCH_SECONDS` (per run, default 5), `BENCH_CLIENTS` (default `1,16,64`).

use anyhow::Context;
use axum::Json;
use axum::routing::post;
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use tollgate_tests::{TestApp, TestOptions};

struct Run {
    requests: usize,
    errors: usize,
    seconds: f64,
    latencies_us: Vec<u32>,
}

impl Run {
    fn per_second(&self) -> f64 {
        self.requests as f64 / self.seconds
    }

    fn percentile_ms(&self, p: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return f64::NAN;
        }
        let index = ((self.latencies_us.len() - 1) as f64 * p).round() as usize;
        f64::from(self.latencies_us[index]) / 1000.0
    }
}

/// `clients` tasks, each sending `body` with `headers` back to back for `duration`.
async fn drive(
    url: &str,
    body: &str,
    headers: &[(&'static str, String)],
    clients: usize,
    duration: Duration,
) -> anyhow::Result<Run> {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(clients)
        .build()?;
    let deadline = Instant::now() + duration;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let http = http.clone();
        let url = url.to_owned();
        let body = body.to_owned();
        let headers = headers.to_vec();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0;
            while Instant::now() < deadline {
                let t0 = Instant::now();
                let mut request = http
                    .post(&url)
                    .header("content-type", "application/json")
                    .header("accept", "application/json, text/event-stream")
                    .body(body.clone());
                for (name, value) in &headers {
                    request = request.header(*name, value);
                }
                let ok = match request.send().await {
                    Ok(response) if response.status().is_success() => {
                        response.bytes().await.is_ok()
                    }
                    _ => false,
                };
                if ok {
                    latencies.push(u32::try_from(t0.elapsed().as_micros()).unwrap_or(u32::MAX));
                } else {
                    errors += 1;
                }
            }
            (latencies, errors)
        }));
    }
    let mut latencies_us = Vec::new();
    let mut errors = 0;
    for task in tasks {
        let (l, e) = task.await?;
        latencies_us.extend(l);
        errors += e;
    }
    let seconds = started.elapsed().as_secs_f64();
    latencies_us.sort_unstable();
    Ok(Run {
        requests: latencies_us.len(),
        errors,
        seconds,
        latencies_us,
    })
}

/// The ceiling: axum parsing a JSON-RPC request and answering a JSON-RPC result.
async fn start_echo() -> anyhow::Result<String> {
    async fn echo(Json(request): Json<Value>) -> Json<Value> {
        Json(json!({"jsonrpc": "2.0", "id": request["id"], "result": {"echo": request["params"]}}))
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/rpc", listener.local_addr()?);
    tokio::spawn(async move {
        let _ = axum::serve(listener, axum::Router::new().route("/rpc", post(echo))).await;
    });
    Ok(url)
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    format!("{cpu}, {cores} cores")
}

/// The files a browser loads to open `/admin` (the page, the loader, the wasm, the styles).
const DASHBOARD_FILES: [&str; 4] = [
    "/admin",
    "/admin/pkg/frontend.js",
    "/admin/pkg/frontend_bg.wasm",
    "/admin/pkg/style.css",
];

/// One load of the dashboard's files, sequential like a browser's critical path: bytes on the
/// wire and milliseconds. `gzip` sends `Accept-Encoding: gzip`; `etags` revalidates with the
/// ETags of an earlier load (a reload).
async fn load_dashboard(
    http: &reqwest::Client,
    base: &str,
    gzip: bool,
    etags: &[Option<String>],
) -> anyhow::Result<(usize, f64, Vec<Option<String>>)> {
    let started = Instant::now();
    let mut bytes = 0;
    let mut seen = Vec::new();
    for (i, path) in DASHBOARD_FILES.iter().enumerate() {
        let mut request = http.get(format!("{base}{path}"));
        if gzip {
            request = request.header("accept-encoding", "gzip");
        }
        if let Some(Some(etag)) = etags.get(i) {
            request = request.header("if-none-match", etag);
        }
        let response = request.send().await?;
        anyhow::ensure!(
            response.status().is_success() || response.status() == 304,
            "{path}: {}",
            response.status()
        );
        seen.push(
            response
                .headers()
                .get("etag")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
        );
        bytes += response.bytes().await?.len();
    }
    Ok((bytes, started.elapsed().as_secs_f64() * 1000.0, seen))
}

/// The dashboard's load: plain files (the baseline) against gzipped ones, and a reload.
async fn dashboard_load(app: &TestApp) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    if http
        .get(format!("{}/admin/pkg/frontend_bg.wasm", app.url))
        .send()
        .await?
        .status()
        != 200
    {
        println!("\nDashboard load: skipped, the dashboard is not built (scripts/build-frontend).");
        return Ok(());
    }
    const LOADS: usize = 20;
    println!("\n## Opening /admin (page, loader, wasm, styles; median of {LOADS} loads)\n");
    println!("| load | bytes on the wire | ms on loopback |");
    println!("|---|---:|---:|");
    let mut etags = Vec::new();
    for (name, gzip, reload) in [
        ("first visit, plain files (baseline)", false, false),
        ("first visit, gzip", true, false),
        ("reload, gzip + ETag (304s)", true, true),
    ] {
        let mut times = Vec::new();
        let mut bytes = 0;
        for _ in 0..LOADS {
            let (b, ms, seen) =
                load_dashboard(&http, &app.url, gzip, if reload { &etags } else { &[] }).await?;
            if gzip && !reload {
                etags = seen;
            }
            bytes = b;
            times.push(ms);
        }
        times.sort_by(f64::total_cmp);
        println!("| {name} | {bytes} | {:.2} |", times[LOADS / 2]);
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let seconds: u64 = std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let clients: Vec<usize> = std::env::var("BENCH_CLIENTS")
        .unwrap_or_else(|_| "1,16,64".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let duration = Duration::from_secs(seconds);

    // The per-address MCP limit is counted on every request (that cost is measured) but set
    // far above what one load generator sends, so that nothing is refused.
    let app = TestApp::spawn_with(TestOptions {
        extra: vec![("TOLLGATE_LIMIT_MCP_ADDRESS".into(), "1000000000/60".into())],
        ..TestOptions::default()
    })
    .await;
    let echo_url = start_echo().await?;

    let meta = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
    });
    // BENCH_TOOL picks another tool (its arguments must be optional), to compare output sizes.
    let tool = std::env::var("BENCH_TOOL").unwrap_or_else(|_| "wporg_query_themes".into());
    let arguments = if tool == "wporg_query_themes" {
        json!({"search": "blog", "per_page": 5})
    } else {
        json!({})
    };
    let call = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
        "name": tool, "arguments": arguments, "_meta": meta}})
    .to_string();
    let mcp_headers = vec![
        ("mcp-protocol-version", "2026-07-28".to_owned()),
        ("mcp-method", "tools/call".to_owned()),
        ("mcp-name", tool.clone()),
    ];
    // The protocol floor: `server/discover` through the same endpoint runs rmcp's stateless
    // dispatch and Tollgate's guard, but no tool, no cache and no billing.
    let discover =
        json!({"jsonrpc": "2.0", "id": 1, "method": "server/discover", "params": {"_meta": meta}})
            .to_string();
    let discover_headers = vec![
        ("mcp-protocol-version", "2026-07-28".to_owned()),
        ("mcp-method", "server/discover".to_owned()),
    ];
    // Warm the upstream cache, and check the call works at all.
    let warm = drive(
        &app.mcp_url("demo"),
        &call,
        &mcp_headers,
        1,
        Duration::from_millis(200),
    )
    .await
    .context("warm-up")?;
    anyhow::ensure!(
        warm.errors == 0 && warm.requests > 0,
        "the warm-up call failed"
    );
    let upstream_before = app.wporg.total_hits();

    println!("# Tollgate benchmark\n");
    println!(
        "Machine: {}; {seconds} s per run; client and servers in one process.\n",
        machine()
    );
    println!("| target | clients | requests/s | p50 ms | p99 ms | errors | vs echo |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for &n in &clients {
        let echo = drive(&echo_url, &call, &[], n, duration).await?;
        let floor = drive(
            &app.mcp_url("demo"),
            &discover,
            &discover_headers,
            n,
            duration,
        )
        .await?;
        let mcp = drive(&app.mcp_url("demo"), &call, &mcp_headers, n, duration).await?;
        for (name, run) in [
            ("axum JSON-RPC echo (ceiling)", &echo),
            ("Tollgate `server/discover` (rmcp floor)", &floor),
            ("Tollgate cached `tools/call`", &mcp),
        ] {
            println!(
                "| {name} | {n} | {:.0} | {:.2} | {:.2} | {} | {:.0}% |",
                run.per_second(),
                run.percentile_ms(0.5),
                run.percentile_ms(0.99),
                run.errors,
                100.0 * run.per_second() / echo.per_second()
            );
        }
    }
    println!(
        "\nUpstream requests during the measured runs: {} (all answered from cache).",
        app.wporg.total_hits() - upstream_before
    );
    dashboard_load(&app).await?;
    app.stop().await;
    Ok(())
}
