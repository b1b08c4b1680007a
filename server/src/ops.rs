//! Operations: health and readiness probes, Prometheus metrics, logging set-up.

pub mod metrics;
pub(crate) mod routes;

use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;

/// Installs the global log subscriber: JSON lines when stdout is not a terminal, readable text
/// when it is. The filter comes from `TOLLGATE_LOG` (default `info`).
pub fn init_logging() {
    let filter = EnvFilter::try_from_env("TOLLGATE_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    if std::io::stdout().is_terminal() {
        let _ = builder.try_init();
    } else {
        let _ = builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init();
    }
}
