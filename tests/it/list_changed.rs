//! `notifications/tools/list_changed`: an rmcp client holding a 2025 session (its `GET` stream
//! open), or a 2026-07-28 `subscriptions/listen` stream, hears of a tool the operator renames
//! through the admin API, on the replica it is connected to even when the change is made on
//! another one (PostgreSQL).

use futures::stream::BoxStream;
use reqwest::header::{HeaderName, HeaderValue};
use rmcp::model::{ClientJsonRpcMessage, ServerNotification, SubscriptionFilter};
use rmcp::service::{NotificationContext, RunningService};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::{
    SseError, StreamableHttpClient, StreamableHttpClientTransportConfig, StreamableHttpError,
    StreamableHttpPostResponse, StreamableHttpResponseLimits,
};
use rmcp::{ClientHandler, RoleClient, ServiceExt};
use serde_json::json;
use sse_stream::Sse;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, mpsc};
use tollgate_tests::admin::Operator;
use tollgate_tests::{Era, TestApp};

/// rmcp's own reqwest client, which also says when the session's `GET` stream is open (the
/// server watches for changes before it answers the `GET`, so from then on none is missed).
#[derive(Clone)]
struct WatchedHttp {
    inner: reqwest::Client,
    stream_open: Arc<Notify>,
}

impl StreamableHttpClient for WatchedHttp {
    type Error = reqwest::Error;

    async fn post_message(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<StreamableHttpPostResponse, StreamableHttpError<Self::Error>> {
        self.inner
            .post_message(uri, message, session_id, auth_header, custom_headers)
            .await
    }

    async fn post_message_with_response_limits(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
        limits: StreamableHttpResponseLimits,
    ) -> Result<StreamableHttpPostResponse, StreamableHttpError<Self::Error>> {
        self.inner
            .post_message_with_response_limits(
                uri,
                message,
                session_id,
                auth_header,
                custom_headers,
                limits,
            )
            .await
    }

    async fn delete_session(
        &self,
        uri: Arc<str>,
        session_id: Arc<str>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<(), StreamableHttpError<Self::Error>> {
        self.inner
            .delete_session(uri, session_id, auth_header, custom_headers)
            .await
    }

    async fn get_stream(
        &self,
        uri: Arc<str>,
        session_id: Option<Arc<str>>,
        last_event_id: Option<String>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<BoxStream<'static, Result<Sse, SseError>>, StreamableHttpError<Self::Error>> {
        let stream = self
            .inner
            .get_stream(uri, session_id, last_event_id, auth_header, custom_headers)
            .await?;
        self.stream_open.notify_one();
        Ok(stream)
    }

    async fn get_stream_with_max_sse_event_size(
        &self,
        uri: Arc<str>,
        session_id: Option<Arc<str>>,
        last_event_id: Option<String>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
        max_sse_event_size: usize,
    ) -> Result<BoxStream<'static, Result<Sse, SseError>>, StreamableHttpError<Self::Error>> {
        let stream = self
            .inner
            .get_stream_with_max_sse_event_size(
                uri,
                session_id,
                last_event_id,
                auth_header,
                custom_headers,
                max_sse_event_size,
            )
            .await?;
        self.stream_open.notify_one();
        Ok(stream)
    }
}

/// A client that counts the tool-list changes it hears of.
#[derive(Clone)]
struct Listener {
    changes: mpsc::UnboundedSender<()>,
}

impl ClientHandler for Listener {
    async fn on_tool_list_changed(&self, _context: NotificationContext<RoleClient>) {
        let _ = self.changes.send(());
    }
}

/// A 2025 session at `url` with its `GET` stream open, and the changes it hears of.
async fn session_with_open_stream(
    url: String,
) -> (
    RunningService<RoleClient, Listener>,
    mpsc::UnboundedReceiver<()>,
) {
    let stream_open = Arc::new(Notify::new());
    let http = WatchedHttp {
        inner: reqwest::Client::new(),
        stream_open: stream_open.clone(),
    };
    let transport = StreamableHttpClientTransport::with_client(
        http,
        StreamableHttpClientTransportConfig::with_uri(url),
    );
    let (changes, heard) = mpsc::unbounded_channel();
    let client = Listener { changes }
        .serve(transport)
        .await
        .expect("the client initializes a session");
    within("the session's GET stream opens", stream_open.notified()).await;
    (client, heard)
}

/// Bounds a wait so that a missing notification fails the test instead of hanging it.
async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(20), future)
        .await
        .unwrap_or_else(|_| panic!("{what}: did not happen"))
}

/// Renames the demo tenant's `from` tool to `to` through the admin API.
async fn rename(operator: &Operator, from: &str, to: &str) {
    let tools = operator.get("/api/v1/tenants/demo/tools").await;
    let id = tools
        .body
        .as_array()
        .into_iter()
        .flatten()
        .find(|t| t["name"] == from)
        .and_then(|t| t["id"].as_str())
        .expect("the tool exists")
        .to_owned();
    let renamed = operator
        .patch(
            &format!("/api/v1/tenants/demo/tools/{id}"),
            json!({"name": to}),
        )
        .await;
    assert!(renamed.status.is_success(), "{:?}", renamed.body);
}

async fn tool_names(client: &RunningService<RoleClient, Listener>) -> Vec<String> {
    client
        .list_all_tools()
        .await
        .expect("tools/list")
        .into_iter()
        .map(|t| t.name.to_string())
        .collect()
}

#[tokio::test]
async fn an_open_session_hears_that_the_operator_renamed_a_tool() {
    let app = TestApp::spawn().await;
    let operator = app.first_operator().await;
    let (client, mut heard) = session_with_open_stream(app.mcp_url("demo")).await;
    assert!(
        tool_names(&client)
            .await
            .contains(&"wporg_events".to_owned())
    );

    rename(&operator, "wporg_events", "wordcamps_near").await;
    within("list_changed after the rename", heard.recv()).await;
    let names = tool_names(&client).await;
    assert!(names.contains(&"wordcamps_near".to_owned()), "{names:?}");
    assert!(!names.contains(&"wporg_events".to_owned()));
    client.cancel().await.expect("the client closes");
}

#[tokio::test]
async fn a_session_on_one_replica_hears_of_a_change_made_on_another() {
    if !std::env::var("TOLLGATE_TEST_DATABASE").is_ok_and(|d| d.starts_with("postgres")) {
        eprintln!("replicas share a PostgreSQL database; not run on SQLite");
        return;
    }
    let app = TestApp::spawn().await;
    let operator = app.first_operator().await;
    let replica = app.spawn_replica(&[]).await;
    let (client, mut heard) = session_with_open_stream(replica.mcp_url("demo")).await;

    // The change is written through the first process; the session lives on the replica.
    rename(&operator, "wporg_patterns", "block_patterns").await;
    within("list_changed on the other replica", heard.recv()).await;
    let names = tool_names(&client).await;
    assert!(names.contains(&"block_patterns".to_owned()), "{names:?}");
    client.cancel().await.expect("the client closes");
}

#[tokio::test]
async fn a_2026_subscription_hears_that_the_operator_renamed_a_tool() {
    let app = TestApp::spawn().await;
    let operator = app.first_operator().await;
    let client = app.mcp_client("demo", Era::Stateless).await;
    // `listen` returns once the server acknowledged, and the server watches before that.
    let mut subscription = client
        .listen(SubscriptionFilter::builder().tools_list_changed().build())
        .await
        .expect("subscriptions/listen is acknowledged");
    assert_eq!(subscription.acknowledged().tools_list_changed, Some(true));

    rename(&operator, "wporg_plugin_tags", "plugin_tags").await;
    let heard = within("list_changed on the subscription", subscription.next())
        .await
        .expect("the stream is open")
        .expect("a notification");
    assert!(
        matches!(heard, ServerNotification::ToolListChangedNotification(_)),
        "{heard:?}"
    );
    let names: Vec<String> = client
        .list_all_tools()
        .await
        .expect("tools/list")
        .into_iter()
        .map(|t| t.name.to_string())
        .collect();
    assert!(names.contains(&"plugin_tags".to_owned()), "{names:?}");
}
