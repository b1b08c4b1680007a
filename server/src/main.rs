//! The `tollgate` command: `tollgate serve` runs the server.

use anyhow::Context;
use tollgate::{App, Config};

/// mimalloc rather than the C library's allocator: a call allocates and frees many small
/// objects across the runtime's threads (request and answer buffers, JSON values), where glibc's
/// arenas spent a third of the CPU of an uncached call (locks, consolidation), measured with
/// `perf` in `scripts/bench`.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const USAGE: &str = "usage: tollgate serve
       tollgate keys rotate

serve        runs Tollgate. Settings come from the environment (see README.md):
             TOLLGATE_BIND, TOLLGATE_PUBLIC_URL, TOLLGATE_DATABASE_URL, TOLLGATE_DATA_DIR,
             TOLLGATE_MASTER_KEY, TOLLGATE_MODE, TOLLGATE_WPORG_API_URL, TOLLGATE_LOG, ...
keys rotate  re-seals every stored secret under TOLLGATE_MASTER_KEY (the new key), opening
             old values with TOLLGATE_MASTER_KEY_PREVIOUS (the old key); replicas given both
             keys keep working during and after it. Then drop TOLLGATE_MASTER_KEY_PREVIOUS.";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let command = std::env::args().nth(1);
    match command.as_deref() {
        Some("serve") | None => serve().await,
        Some("keys") if std::env::args().nth(2).as_deref() == Some("rotate") => rotate_keys().await,
        Some("help" | "--help" | "-h") => {
            println!("{USAGE}");
            Ok(())
        }
        Some(other) => {
            eprintln!("unknown command {other:?}\n\n{USAGE}");
            std::process::exit(2);
        }
    }
}

/// What every command starts with: the TLS provider, logging, and the configuration from the
/// environment (a bad one ends the process with its message and exit code 2).
fn start() -> Config {
    // reqwest is built without a default TLS provider; ring is the one we ship.
    let _ = rustls::crypto::ring::default_provider().install_default();
    tollgate::ops::init_logging();
    match Config::from_env() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("tollgate: bad configuration: {error}");
            std::process::exit(2);
        }
    }
}

async fn serve() -> anyhow::Result<()> {
    let config = start();
    let bind = config.bind;
    let public = config.public_url.clone();
    let app = App::build(config).await?;
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .with_context(|| format!("TOLLGATE_BIND: cannot listen on {bind}"))?;
    let production = app.state().config.production;
    println!("Tollgate is listening on {bind}");
    if production {
        println!("  mode:              production");
    } else {
        println!(
            "  mode:              DEVELOPMENT (demo tenant, demo sign-in without a GitHub app, sandbox checkout); set TOLLGATE_MODE=production for real use"
        );
        println!("  demo MCP endpoint: {}", public.join("/t/demo/mcp"));
    }
    println!("  health:            {}", public.join("/healthz"));
    println!("  metrics:           {}", public.join("/metrics"));
    println!("  dashboard:         {}", public.join("/admin"));
    // A fresh install has no operator yet: this one-time link creates the first (it stays
    // valid until used; a restart prints a new one).
    if let Some(token) = app.state().accounts.setup_token().await? {
        println!();
        println!("  No operator account exists yet. Create the first one here (one-time link):");
        println!(
            "    {}?token={}",
            public.join("/admin/setup"),
            token.expose()
        );
        println!();
    }
    app.serve(listener, shutdown_signal()).await?;
    Ok(())
}

/// `tollgate keys rotate`: builds the app as `serve` would (so the key check and migrations
/// run), re-seals every secret under the new key and records its fingerprint.
async fn rotate_keys() -> anyhow::Result<()> {
    let config = start();
    let app = App::build(config).await?;
    let report = app.state().rotate_master_key().await?;
    println!(
        "Re-sealed {} secrets of {} tenants under the new master key. Every replica may now drop TOLLGATE_MASTER_KEY_PREVIOUS.",
        report.resealed, report.tenants
    );
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
