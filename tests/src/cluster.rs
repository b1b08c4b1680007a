//! Several replicas of the real app on one PostgreSQL database, behind a real load balancer
//! (Debian's HAProxy, in HTTP mode, round-robin per request), as production runs them.

use crate::{TestApp, TestOptions};
use std::io::Write;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Replicas of one app behind one front. Every replica's public URL, and its `url` here, is
/// the front's; each replica's own socket is its `addr` (see [`Cluster::direct_url`]).
pub struct Cluster {
    /// The replicas, started at the same moment on an empty database.
    pub replicas: Vec<TestApp>,
    /// The front's URL: the public URL of every replica.
    pub url: String,
    front: Front,
}

impl Cluster {
    /// Starts `n` replicas at once on a fresh database (PostgreSQL when
    /// `TOLLGATE_TEST_DATABASE` names one) and HAProxy in front of them.
    pub async fn start(n: usize, options: TestOptions) -> Self {
        let port = free_port();
        let url = format!("http://127.0.0.1:{port}");
        let replicas = TestApp::spawn_many_at_once(n, options, Some(&url)).await;
        let backends: Vec<SocketAddr> = replicas.iter().map(|r| r.addr).collect();
        let front = Front::start(port, &backends).await;
        Self {
            replicas,
            url,
            front,
        }
    }

    /// The first replica: the app a test acts on as an operator; its `url` is the front.
    pub fn app(&self) -> &TestApp {
        &self.replicas[0]
    }

    /// A replica's own address, bypassing the front.
    pub fn direct_url(&self, replica: usize) -> String {
        format!("http://{}", self.replicas[replica].addr)
    }

    /// The MCP requests each replica answered so far (from its own request counter): proof
    /// that the front spread the work.
    pub fn mcp_requests_per_replica(&self) -> Vec<u64> {
        self.replicas
            .iter()
            .map(|r| mcp_requests(&r.state.metrics.render()))
            .collect()
    }

    /// The front's process id, for a test that wants to check it runs.
    pub fn front_pid(&self) -> u32 {
        self.front.child.id()
    }
}

/// Sums the `tollgate_http_requests_total` counters of the MCP route in a metrics text.
fn mcp_requests(metrics: &str) -> u64 {
    metrics
        .lines()
        .filter(|l| l.starts_with("tollgate_http_requests_total{") && l.contains("/mcp"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

/// A port that was free a moment ago (the front binds it once the replicas, which must know
/// their public URL first, are up). Chosen at random below Linux's ephemeral range
/// (32768–60999), so that the listeners other tests open on port 0 meanwhile cannot be handed
/// the same port before HAProxy binds it.
fn free_port() -> u16 {
    loop {
        let random = u16::from_le_bytes([
            uuid::Uuid::new_v4().as_bytes()[0],
            uuid::Uuid::new_v4().as_bytes()[1],
        ]);
        let port = 20_000 + random % 12_000;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// HAProxy, running in the foreground as a child of the test; stopped on drop.
struct Front {
    child: Child,
    _config: tempfile_path::Guard,
}

impl Front {
    async fn start(port: u16, backends: &[SocketAddr]) -> Self {
        let servers: String = backends
            .iter()
            .enumerate()
            .map(|(i, addr)| format!("    server r{i} {addr}\n"))
            .collect();
        // `http-server-close` is not needed: in HTTP mode HAProxy balances every request,
        // also on a kept-alive client connection. Long timeouts for SSE streams.
        let config = format!(
            "global\n    maxconn 4096\n\
             defaults\n    mode http\n    timeout connect 5s\n    timeout client 120s\n    timeout server 120s\n    option forwardfor\n\
             frontend front\n    bind 127.0.0.1:{port}\n    monitor-uri /haproxy-alive\n    default_backend replicas\n\
             backend replicas\n    balance roundrobin\n{servers}"
        );
        let guard = tempfile_path::Guard::write("haproxy.cfg", &config);
        let child = Command::new(haproxy())
            .args(["-db", "-f"])
            .arg(&guard.path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("HAProxy starts (install Debian's haproxy package)");
        let mut front = Self {
            child,
            _config: guard,
        };
        let http = reqwest::Client::new();
        let alive = format!("http://127.0.0.1:{port}/haproxy-alive");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(Some(status)) = front.child.try_wait() {
                panic!("HAProxy exited at start ({status}): port {port} taken?");
            }
            if http
                .get(&alive)
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return front;
            }
            assert!(
                Instant::now() < deadline,
                "HAProxy did not answer on port {port} within 10 s"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Front {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn haproxy() -> String {
    std::env::var("TOLLGATE_HAPROXY").unwrap_or_else(|_| {
        ["/usr/sbin/haproxy", "/usr/bin/haproxy"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())
            .unwrap_or("haproxy")
            .to_owned()
    })
}

/// A file in a folder of its own, removed on drop.
mod tempfile_path {
    use super::Write;

    pub(super) struct Guard {
        pub(super) path: std::path::PathBuf,
        dir: std::path::PathBuf,
    }

    impl Guard {
        pub(super) fn write(name: &str, contents: &str) -> Self {
            let dir = std::env::temp_dir()
                .join(format!("tollgate-front-{}", uuid::Uuid::new_v4().simple()));
            std::fs::create_dir_all(&dir).expect("a scratch folder");
            let path = dir.join(name);
            let mut file = std::fs::File::create(&path).expect("the file");
            file.write_all(contents.as_bytes()).expect("written");
            Self { path, dir }
        }
    }

    impl Drop for Guard {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}
