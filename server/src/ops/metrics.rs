//! Prometheus metrics: HTTP requests, tool calls, upstream latency and cache hits.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::sync::Arc;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ToolCallLabels {
    tenant: String,
    tool: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct UpstreamLabels {
    endpoint: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PathLabels {
    path: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CacheLabels {
    result: String,
}

fn latency_histogram() -> Histogram {
    // 0.25 ms .. ~16 s
    Histogram::new(exponential_buckets(0.000_25, 2.0, 17))
}

/// The process-wide metrics, cheap to clone.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

struct Inner {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    tool_calls: Family<ToolCallLabels, Counter>,
    upstream: Family<UpstreamLabels, Histogram, fn() -> Histogram>,
    cache: Family<CacheLabels, Counter>,
    call_paths: Family<PathLabels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh registry with every Tollgate metric registered.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("tollgate");
        let requests = Family::<RequestLabels, Counter>::default();
        let tool_calls = Family::<ToolCallLabels, Counter>::default();
        let upstream = Family::<UpstreamLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram,
        );
        let cache = Family::<CacheLabels, Counter>::default();
        let call_paths = Family::<PathLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by route and status",
            requests.clone(),
        );
        registry.register(
            "tool_calls",
            "MCP tool calls, by tenant, tool and outcome",
            tool_calls.clone(),
        );
        registry.register(
            "upstream_request_duration_seconds",
            "Latency of requests to upstream APIs, by endpoint and outcome",
            upstream.clone(),
        );
        registry.register(
            "upstream_cache",
            "Upstream response cache lookups, by result (hit, miss, coalesced)",
            cache.clone(),
        );
        registry.register(
            "tool_call_paths",
            "Tool calls answered without rmcp, by path (replayed, direct)",
            call_paths.clone(),
        );
        Self {
            inner: Arc::new(Inner {
                registry,
                requests,
                tool_calls,
                upstream,
                cache,
                call_paths,
            }),
        }
    }

    /// Count one answered HTTP request. `route` is the matched route template, never a raw path.
    pub fn http_request(&self, route: &str, status: u16) {
        self.inner
            .requests
            .get_or_create(&RequestLabels {
                route: route.to_owned(),
                status,
            })
            .inc();
    }

    /// Count one tool call and how it ended (`ok`, `tool_error`, `protocol_error`, …).
    pub fn tool_call(&self, tenant: &str, tool: &str, outcome: &str) {
        self.inner
            .tool_calls
            .get_or_create(&ToolCallLabels {
                tenant: tenant.to_owned(),
                tool: tool.to_owned(),
                outcome: outcome.to_owned(),
            })
            .inc();
    }

    /// Record the latency of one upstream request.
    pub fn upstream_request(&self, endpoint: &str, outcome: &str, seconds: f64) {
        self.inner
            .upstream
            .get_or_create(&UpstreamLabels {
                endpoint: endpoint.to_owned(),
                outcome: outcome.to_owned(),
            })
            .observe(seconds);
    }

    /// Count one cache lookup: `hit`, `miss` (this caller fetched) or `coalesced` (waited for
    /// another caller's fetch).
    pub fn cache_lookup(&self, result: &str) {
        self.inner
            .cache
            .get_or_create(&CacheLabels {
                result: result.to_owned(),
            })
            .inc();
    }

    /// Count one tool call answered without rmcp: `replayed` (a remembered answer) or `direct`
    /// (`mcp/direct.rs`).
    pub fn call_path(&self, path: &'static str) {
        self.inner
            .call_paths
            .get_or_create(&PathLabels { path })
            .inc();
    }

    /// The metrics in the Prometheus text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.inner.registry);
        out
    }
}
