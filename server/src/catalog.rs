//! The catalog of operations a tenant's tools run: the WordPress.org pack (`wordpress/`) and
//! the development-only diagnostics pack (`diagnostics.rs`). Each operation declares its name,
//! texts, schemas and handler in one [`OperationSpec`] next to its code; [`Operation`] names
//! it, and [`Operation::spec`] is the one table that maps a name to its declaration. Adding a
//! tool is its spec beside its code, plus a variant and a line here.

use crate::wordpress::{UpstreamError, WordPressApi};
use serde_json::{Map, Value};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

/// One operation of the catalog. The first twelve are the WordPress.org pack, the rest the
/// diagnostics pack.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Operation {
    /// Search the theme directory.
    QueryThemes,
    /// Details of one or more themes.
    ThemeInfo,
    /// The most used theme tags.
    ThemeTags,
    /// The theme feature filters (layout, features, subject).
    ThemeFeatures,
    /// Search the plugin directory.
    QueryPlugins,
    /// Details of one or more plugins.
    PluginInfo,
    /// The most used plugin tags.
    PluginTags,
    /// Daily download counts of a plugin.
    PluginDownloads,
    /// WordPress releases: latest, offers, and which versions are secure.
    CoreVersions,
    /// Language packs of core, a plugin or a theme.
    Translations,
    /// Upcoming WordCamps and meetups near a place.
    Events,
    /// Block patterns from the pattern directory.
    Patterns,
    /// Diagnostics: one text block.
    DiagSimpleText,
    /// Diagnostics: one image block.
    DiagImage,
    /// Diagnostics: one audio block.
    DiagAudio,
    /// Diagnostics: one embedded resource.
    DiagEmbeddedResource,
    /// Diagnostics: text, image and resource in one result.
    DiagMixedContent,
    /// Diagnostics: a tool error (`isError`).
    DiagError,
    /// Diagnostics: progress notifications.
    DiagProgress,
    /// Diagnostics: log notifications (2025-era logging).
    DiagLogging,
    /// Diagnostics: log notifications only when the request asked for a log level (2026-07-28).
    DiagLoggingTool,
    /// Diagnostics: an input schema using JSON Schema 2020-12 keywords.
    DiagJsonSchema,
    /// Diagnostics: needs the client's `sampling` capability, to show the refusal.
    DiagMissingCapability,
    /// Diagnostics: announces a change of the tool list.
    DiagTriggerToolChange,
    /// Diagnostics (MRTR): one elicitation.
    DiagInputElicitation,
    /// Diagnostics (MRTR): one sampling request.
    DiagInputSampling,
    /// Diagnostics (MRTR): one roots request.
    DiagInputListRoots,
    /// Diagnostics (MRTR): an elicitation with a request state.
    DiagInputRequestState,
    /// Diagnostics (MRTR): elicitation, sampling and roots at once.
    DiagInputMultiple,
    /// Diagnostics (MRTR): two rounds, each with its own state.
    DiagInputMultiRound,
    /// Diagnostics (MRTR): asks only for what the client declared.
    DiagInputCapabilities,
    /// Diagnostics (MRTR): a state whose tampering is refused.
    DiagInputTamperedState,
    /// Diagnostics: asks for input while its response streams (as `input_required`).
    DiagStreamingElicitation,
}

/// Which pack an operation belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pack {
    /// The WordPress.org tools: installed for new tenants, call the upstream.
    WordPress,
    /// Fixture tools for protocol conformance testing: never installed by default, free, no
    /// upstream, no state.
    Diagnostics,
}

/// What an operation is: its names, texts, schemas and handler, declared next to its code.
pub struct OperationSpec {
    /// The stable key, stored in the `tool` table, e.g. `wporg.query_themes`.
    pub key: &'static str,
    /// The tool name used unless a tenant renames it, e.g. `wporg_query_themes`.
    pub default_name: &'static str,
    /// A human title.
    pub title: &'static str,
    /// What the tool does, for a model: when to use it and its main arguments.
    pub description: &'static str,
    /// Builds the JSON Schema (2020-12) of the arguments; called once.
    pub input_schema: fn() -> Value,
    /// Builds the JSON Schema of the structured result (root `type: object`); called once.
    /// `None`: the tool answers with content blocks only.
    pub output_schema: Option<fn() -> Value>,
    /// Runs the tool.
    pub run: Runner,
}

/// An operation's handler.
pub type Runner = for<'a> fn(ToolCall<'a>) -> RunFuture<'a>;

/// What a handler returns.
pub type RunFuture<'a> = Pin<Box<dyn Future<Output = Result<ToolAnswer, ToolFailure>> + Send + 'a>>;

/// What a handler gets: the upstream, the arguments, and the request's event channel.
#[derive(Clone, Copy)]
pub struct ToolCall<'a> {
    /// The WordPress.org API.
    pub api: &'a dyn WordPressApi,
    /// The call's arguments.
    pub args: &'a Map<String, Value>,
    /// Progress, log and change events of this call, and what the client declared.
    pub events: &'a dyn ToolEvents,
    /// What the client sent back for an earlier `input_required` answer.
    pub input: &'a CallInput,
}

/// The client's answers to an earlier `input_required` (2026-07-28 multi-round tool calls).
#[derive(Clone, Debug, Default)]
pub struct CallInput {
    /// `inputResponses`, by the keys the server asked under.
    pub responses: Map<String, Value>,
    /// `requestState`, as the server sent it (sealed).
    pub state: Option<String>,
}

/// A boxed future of an event.
pub type EventFuture<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// The MCP side of a running call, as a handler sees it (implemented by `mcp::handler`).
pub trait ToolEvents: Send + Sync {
    /// Reports progress when the caller asked for it (a progress token); otherwise nothing.
    fn progress(&self, progress: f64, total: f64) -> EventFuture<'_>;
    /// Sends an `info` log message when the caller's era and level allow it.
    fn log(&self, message: String) -> EventFuture<'_>;
    /// Whether the client declared this capability (`sampling`, `elicitation`, `roots`) for
    /// this request.
    fn client_declares(&self, capability: &str) -> bool;
    /// `plain` sealed for a later round of this call's tool at this tenant (integrity and
    /// confidentiality under the master key); `None` when it cannot be sealed.
    fn seal_state(&self, purpose: &str, plain: &str) -> Option<String>;
    /// What [`seal_state`](Self::seal_state) sealed; `None` when altered or sealed elsewhere.
    fn open_state(&self, purpose: &str, sealed: &str) -> Option<String>;
    /// Tells the tenant's open sessions and subscriptions that its tool list changed.
    fn tools_changed(&self) -> EventFuture<'_>;
}

/// Events of a call with nowhere to go (used where no MCP request is behind a call).
pub struct NoEvents;

impl ToolEvents for NoEvents {
    fn progress(&self, _progress: f64, _total: f64) -> EventFuture<'_> {
        Box::pin(std::future::ready(()))
    }
    fn log(&self, _message: String) -> EventFuture<'_> {
        Box::pin(std::future::ready(()))
    }
    fn client_declares(&self, _capability: &str) -> bool {
        false
    }
    fn seal_state(&self, _purpose: &str, plain: &str) -> Option<String> {
        Some(plain.to_owned())
    }
    fn open_state(&self, _purpose: &str, sealed: &str) -> Option<String> {
        Some(sealed.to_owned())
    }
    fn tools_changed(&self) -> EventFuture<'_> {
        Box::pin(std::future::ready(()))
    }
}

/// A successful call: data (a summary text and the structured result) or plain content.
#[derive(Clone, Debug, PartialEq)]
pub enum ToolAnswer {
    /// A WordPress.org tool's answer.
    Data(ToolOutput),
    /// Content blocks without a structured result (the diagnostics pack).
    Content(Vec<ContentItem>),
    /// The call needs input from the client first (2026-07-28 `input_required`): requests by
    /// key, each a JSON-RPC request shape (`{"method", "params"}`) of `elicitation/create`,
    /// `sampling/createMessage` or `roots/list`, and the state to echo back.
    InputRequired {
        requests: Vec<(String, Value)>,
        state: Option<String>,
    },
}

impl From<ToolOutput> for ToolAnswer {
    fn from(output: ToolOutput) -> Self {
        Self::Data(output)
    }
}

/// One content block of a [`ToolAnswer::Content`].
#[derive(Clone, Debug, PartialEq)]
pub enum ContentItem {
    /// Text.
    Text(String),
    /// A base64 image.
    Image {
        data: String,
        mime_type: &'static str,
    },
    /// A base64 audio clip.
    Audio {
        data: String,
        mime_type: &'static str,
    },
    /// An embedded text resource.
    Resource {
        uri: &'static str,
        mime_type: &'static str,
        text: String,
    },
}

/// A tool's successful result.
#[derive(Clone, Debug, PartialEq)]
pub struct ToolOutput {
    /// A short human-readable summary.
    pub text: String,
    /// The structured result: always a JSON object conforming to the output schema.
    pub structured: Value,
}

/// Why a tool call failed. The Display text is shown to the model: it says what went wrong
/// and what to try instead.
#[derive(Debug, thiserror::Error)]
pub enum ToolFailure {
    /// The arguments do not fit the input schema (or each other).
    #[error("Invalid arguments: {0}")]
    InvalidArguments(String),
    /// The theme, plugin or place does not exist; the message names it and what to try.
    #[error("{0}")]
    NotFound(String),
    /// WordPress.org refused the request as malformed, with its message.
    #[error(
        "WordPress.org rejected the request ({0}). Check the arguments against the tool's input \
         schema and try again."
    )]
    Rejected(String),
    /// WordPress.org did not answer in time.
    #[error("{}", timeout_message(*.after))]
    Timeout {
        /// The time limit of one attempt, when known.
        after: Option<Duration>,
    },
    /// Any other upstream failure (5xx, unreadable answer, network).
    #[error("{}", upstream_message(.0))]
    Upstream(UpstreamError),
    /// A diagnostics tool's deliberate tool error, with its text.
    #[error("{0}")]
    Deliberate(String),
    /// The call needs a capability the client did not declare (a protocol error, `-32021`,
    /// rather than a tool result); the name is the capability's, e.g. `sampling`.
    #[error("this tool needs the client capability `{0}`, which the request did not declare")]
    MissingClientCapability(&'static str),
    /// The `requestState` sent back does not verify (altered, or sealed for another call): a
    /// protocol error (`-32602`).
    #[error("the requestState does not verify: it was altered or belongs to another call")]
    InvalidRequestState,
}

impl ToolFailure {
    /// A short metric label: `invalid_arguments`, `not_found`, `upstream_error` or `timeout`.
    pub fn outcome(&self) -> &'static str {
        match self {
            Self::InvalidArguments(_) | Self::Rejected(_) => "invalid_arguments",
            Self::NotFound(_) => "not_found",
            Self::Timeout { .. } | Self::Upstream(UpstreamError::Timeout) => "timeout",
            Self::Upstream(_) => "upstream_error",
            Self::Deliberate(_) => "deliberate_error",
            Self::MissingClientCapability(_) => "missing_capability",
            Self::InvalidRequestState => "invalid_request_state",
        }
    }
}

fn timeout_message(after: Option<Duration>) -> String {
    match after {
        Some(limit) => format!(
            "WordPress.org did not answer within {} s; try again in a moment.",
            seconds(limit)
        ),
        None => "WordPress.org did not answer in time; try again in a moment.".to_owned(),
    }
}

fn seconds(limit: Duration) -> String {
    let secs = limit.as_secs_f64();
    if secs.fract() == 0.0 {
        format!("{secs:.0}")
    } else {
        format!("{secs:.1}")
    }
}

fn upstream_message(error: &UpstreamError) -> String {
    match error {
        UpstreamError::NotFound(message) => {
            format!("WordPress.org has no such item ({message}). Check the name or slug.")
        }
        UpstreamError::BadRequest(message) => format!(
            "WordPress.org rejected the request ({message}). Check the arguments and try again."
        ),
        UpstreamError::Status(429) => {
            "WordPress.org is limiting requests right now (HTTP 429); wait a minute and try again."
                .to_owned()
        }
        UpstreamError::Status(status @ 500..=599) => format!(
            "WordPress.org answered with a server error (HTTP {status}); this is usually \
             temporary, so try again in a moment."
        ),
        UpstreamError::Status(status) => format!(
            "WordPress.org answered with an unexpected HTTP status {status}; try again later."
        ),
        UpstreamError::Timeout => timeout_message(None),
        UpstreamError::Unreachable(_) => {
            "WordPress.org could not be reached; try again in a moment.".to_owned()
        }
        UpstreamError::InvalidJson(_) => {
            "WordPress.org sent an answer that could not be read (not valid JSON); try again in a \
             moment."
                .to_owned()
        }
        UpstreamError::TooLarge(_) => {
            "WordPress.org sent a larger answer than Tollgate accepts; narrow the request (fewer \
             results per page, fewer extra fields)."
                .to_owned()
        }
        UpstreamError::InvalidRequest(_) => {
            "The request to WordPress.org could not be built; try different arguments.".to_owned()
        }
    }
}

/// A JSON Schema object, shared.
type Schema = Arc<Map<String, Value>>;

/// Every operation, in declaration order (the index of each is its discriminant).
const EVERY: [Operation; 33] = [
    Operation::QueryThemes,
    Operation::ThemeInfo,
    Operation::ThemeTags,
    Operation::ThemeFeatures,
    Operation::QueryPlugins,
    Operation::PluginInfo,
    Operation::PluginTags,
    Operation::PluginDownloads,
    Operation::CoreVersions,
    Operation::Translations,
    Operation::Events,
    Operation::Patterns,
    Operation::DiagSimpleText,
    Operation::DiagImage,
    Operation::DiagAudio,
    Operation::DiagEmbeddedResource,
    Operation::DiagMixedContent,
    Operation::DiagError,
    Operation::DiagProgress,
    Operation::DiagLogging,
    Operation::DiagLoggingTool,
    Operation::DiagJsonSchema,
    Operation::DiagMissingCapability,
    Operation::DiagTriggerToolChange,
    Operation::DiagInputElicitation,
    Operation::DiagInputSampling,
    Operation::DiagInputListRoots,
    Operation::DiagInputRequestState,
    Operation::DiagInputMultiple,
    Operation::DiagInputMultiRound,
    Operation::DiagInputCapabilities,
    Operation::DiagInputTamperedState,
    Operation::DiagStreamingElicitation,
];

/// The schemas of every operation, built once, indexed by discriminant; `None` for an
/// operation without an output schema.
static SCHEMAS: LazyLock<Vec<(Schema, Option<Schema>)>> = LazyLock::new(|| {
    EVERY
        .iter()
        .map(|op| {
            let spec = op.spec();
            let input = Arc::new(object((spec.input_schema)()));
            let output = spec.output_schema.map(|build| Arc::new(object(build())));
            (input, output)
        })
        .collect()
});

/// The map of a schema object (schemas are written as objects; anything else is a bug that
/// yields an empty object schema rather than a panic).
fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => {
            let mut map = Map::new();
            map.insert("type".to_owned(), Value::String("object".to_owned()));
            map
        }
    }
}

impl Operation {
    /// Every WordPress.org operation, in catalogue order: the pack a new tenant gets.
    pub const ALL: [Operation; 12] = [
        Self::QueryThemes,
        Self::ThemeInfo,
        Self::ThemeTags,
        Self::ThemeFeatures,
        Self::QueryPlugins,
        Self::PluginInfo,
        Self::PluginTags,
        Self::PluginDownloads,
        Self::CoreVersions,
        Self::Translations,
        Self::Events,
        Self::Patterns,
    ];

    /// The diagnostics pack (conformance fixtures), in catalogue order; never installed
    /// unless an operator adds its tools.
    pub const DIAGNOSTICS: [Operation; 21] = [
        Self::DiagSimpleText,
        Self::DiagImage,
        Self::DiagAudio,
        Self::DiagEmbeddedResource,
        Self::DiagMixedContent,
        Self::DiagError,
        Self::DiagProgress,
        Self::DiagLogging,
        Self::DiagLoggingTool,
        Self::DiagJsonSchema,
        Self::DiagMissingCapability,
        Self::DiagTriggerToolChange,
        Self::DiagInputElicitation,
        Self::DiagInputSampling,
        Self::DiagInputListRoots,
        Self::DiagInputRequestState,
        Self::DiagInputMultiple,
        Self::DiagInputMultiRound,
        Self::DiagInputCapabilities,
        Self::DiagInputTamperedState,
        Self::DiagStreamingElicitation,
    ];

    /// Every operation an operator can add, both packs.
    pub fn catalog() -> impl Iterator<Item = Operation> {
        EVERY.into_iter()
    }

    /// The one table from an operation to its declaration.
    pub fn spec(self) -> &'static OperationSpec {
        use crate::diagnostics as diag;
        use crate::wordpress::{patterns, plugin_downloads, plugins, site, theme_features, themes};
        match self {
            Self::QueryThemes => &themes::QUERY,
            Self::ThemeInfo => &themes::INFO,
            Self::ThemeTags => &themes::TAGS,
            Self::ThemeFeatures => &theme_features::FEATURES,
            Self::QueryPlugins => &plugins::QUERY,
            Self::PluginInfo => &plugins::INFO,
            Self::PluginTags => &plugins::TAGS,
            Self::PluginDownloads => &plugin_downloads::DOWNLOADS,
            Self::CoreVersions => &site::CORE_VERSIONS,
            Self::Translations => &site::TRANSLATIONS,
            Self::Events => &site::EVENTS,
            Self::Patterns => &patterns::PATTERNS,
            Self::DiagSimpleText => &diag::SIMPLE_TEXT,
            Self::DiagImage => &diag::IMAGE,
            Self::DiagAudio => &diag::AUDIO,
            Self::DiagEmbeddedResource => &diag::EMBEDDED_RESOURCE,
            Self::DiagMixedContent => &diag::MIXED_CONTENT,
            Self::DiagError => &diag::ERROR,
            Self::DiagProgress => &diag::PROGRESS,
            Self::DiagLogging => &diag::LOGGING,
            Self::DiagLoggingTool => &diag::LOGGING_TOOL,
            Self::DiagJsonSchema => &diag::JSON_SCHEMA,
            Self::DiagMissingCapability => &diag::MISSING_CAPABILITY,
            Self::DiagTriggerToolChange => &diag::TRIGGER_TOOL_CHANGE,
            Self::DiagInputElicitation => &diag::INPUT_ELICITATION,
            Self::DiagInputSampling => &diag::INPUT_SAMPLING,
            Self::DiagInputListRoots => &diag::INPUT_LIST_ROOTS,
            Self::DiagInputRequestState => &diag::INPUT_REQUEST_STATE,
            Self::DiagInputMultiple => &diag::INPUT_MULTIPLE,
            Self::DiagInputMultiRound => &diag::INPUT_MULTI_ROUND,
            Self::DiagInputCapabilities => &diag::INPUT_CAPABILITIES,
            Self::DiagInputTamperedState => &diag::INPUT_TAMPERED_STATE,
            Self::DiagStreamingElicitation => &diag::STREAMING_ELICITATION,
        }
    }

    /// The pack the operation belongs to.
    pub fn pack(self) -> Pack {
        if Self::DIAGNOSTICS.contains(&self) {
            Pack::Diagnostics
        } else {
            Pack::WordPress
        }
    }

    /// The stable key of the operation, e.g. `wporg.query_themes`.
    pub fn key(self) -> &'static str {
        self.spec().key
    }

    /// The operation with this [`key`](Self::key).
    pub fn parse(key: &str) -> Option<Self> {
        Self::catalog().find(|op| op.key() == key)
    }

    /// The tool name used unless a tenant renames it, e.g. `wporg_query_themes`.
    pub fn default_name(self) -> &'static str {
        self.spec().default_name
    }

    /// A human title.
    pub fn title(self) -> &'static str {
        self.spec().title
    }

    /// What the tool does, for a model: when to use it and its main arguments.
    pub fn description(self) -> &'static str {
        self.spec().description
    }

    /// The JSON Schema (2020-12) of the tool's arguments; built once and shared.
    pub fn input_schema(self) -> Arc<Map<String, Value>> {
        SCHEMAS
            .get(self as usize)
            .map(|(input, _)| Arc::clone(input))
            .unwrap_or_default()
    }

    /// The JSON Schema of the tool's structured result (root `type: object`); built once.
    /// Empty for an operation that has none (see [`has_output_schema`](Self::has_output_schema)).
    pub fn output_schema(self) -> Arc<Map<String, Value>> {
        SCHEMAS
            .get(self as usize)
            .and_then(|(_, output)| output.clone())
            .unwrap_or_default()
    }

    /// Whether the tool declares an output schema (and so always returns a structured result).
    pub fn has_output_schema(self) -> bool {
        self.spec().output_schema.is_some()
    }

    /// Runs the tool.
    pub async fn run(self, call: ToolCall<'_>) -> Result<ToolAnswer, ToolFailure> {
        (self.spec().run)(call).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_names_round_trip() {
        for (index, op) in Operation::catalog().enumerate() {
            assert_eq!(op as usize, index, "EVERY is in declaration order");
            assert_eq!(Operation::parse(op.key()), Some(op));
            assert!(!op.title().is_empty());
            if op.pack() == Pack::WordPress {
                assert_eq!(op.key().replace('.', "_"), op.default_name());
                assert!(
                    op.description().len() > 80,
                    "{op:?} needs a real description"
                );
            } else {
                assert!(op.key().starts_with("diagnostics."), "{op:?}");
                assert!(
                    op.description().starts_with("Conformance-testing fixture"),
                    "{op:?} says what it is for"
                );
            }
        }
        assert_eq!(Operation::parse("wporg.nope"), None);
    }

    #[test]
    fn schemas_are_closed_objects_with_described_properties() {
        assert_eq!(
            Operation::catalog().count(),
            Operation::ALL.len() + Operation::DIAGNOSTICS.len()
        );
        for op in Operation::ALL {
            assert_eq!(op.pack(), Pack::WordPress);
            assert!(op.has_output_schema(), "{op:?}");
            let input = op.input_schema();
            assert_eq!(input.get("type"), Some(&Value::from("object")), "{op:?}");
            assert_eq!(
                input.get("additionalProperties"),
                Some(&Value::Bool(false)),
                "{op:?}"
            );
            let properties = input
                .get("properties")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            for (name, property) in &properties {
                assert!(
                    property.get("description").is_some(),
                    "{op:?}.{name} lacks a description"
                );
            }
            let output = op.output_schema();
            assert_eq!(output.get("type"), Some(&Value::from("object")), "{op:?}");
            assert!(Arc::ptr_eq(&input, &op.input_schema()), "built once");
        }
    }

    #[test]
    fn failures_say_what_to_do() {
        let timeout = ToolFailure::Timeout {
            after: Some(Duration::from_secs(10)),
        };
        assert_eq!(
            timeout.to_string(),
            "WordPress.org did not answer within 10 s; try again in a moment."
        );
        assert_eq!(timeout.outcome(), "timeout");
        let server = ToolFailure::Upstream(UpstreamError::Status(503));
        assert!(server.to_string().contains("try again"));
        assert_eq!(server.outcome(), "upstream_error");
        assert_eq!(
            ToolFailure::Rejected("x".into()).outcome(),
            "invalid_arguments"
        );
        assert_eq!(ToolFailure::NotFound("x".into()).outcome(), "not_found");
    }
}
