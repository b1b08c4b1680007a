//! The diagnostics tool pack: development-only fixture tools for protocol conformance testing.
//!
//! These are the tools the official MCP conformance suite (npm `@modelcontextprotocol/conformance`)
//! calls by name: plain text, image, audio, embedded resource, mixed content, a tool error,
//! progress, logging, a JSON Schema 2020-12 input schema, a tool needing an undeclared client
//! capability, and a hook that announces a tool-list change. They are catalog operations like
//! the WordPress.org ones, but no tenant has them unless an operator adds them (they are never
//! part of the pack new tenants get, nor of the demo seed). They are free, keep no state and
//! never call WordPress.org, so enabling them cannot cost a tenant anything; their titles say
//! they are for conformance testing, which is what the dashboard's tool picker shows.

use crate::catalog::{ContentItem, OperationSpec, ToolAnswer, ToolCall, ToolFailure};
use serde_json::{Value, json};

/// A 1×1 red PNG.
const RED_PIXEL_PNG: &str =
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC";
/// One millisecond of silence: 8 samples of 8-bit mono PCM at 8 kHz, as a WAV file.
const SILENCE_WAV: &str =
    "UklGRiwAAABXQVZFZm10IBAAAAABAAEAQB8AAEAfAAABAAgAZGF0YQgAAACAgICAgICAgA==";

/// The input schema of a tool without arguments.
fn no_arguments() -> Value {
    json!({"type": "object", "properties": {}, "additionalProperties": false})
}

fn text(text: &str) -> Result<ToolAnswer, ToolFailure> {
    Ok(ToolAnswer::Content(vec![ContentItem::Text(
        text.to_owned(),
    )]))
}

fn image() -> ContentItem {
    ContentItem::Image {
        data: RED_PIXEL_PNG.to_owned(),
        mime_type: "image/png",
    }
}

/// `test_simple_text`.
pub(crate) static SIMPLE_TEXT: OperationSpec = OperationSpec {
    key: "diagnostics.simple_text",
    default_name: "test_simple_text",
    title: "Diagnostics (conformance testing): simple text",
    description: "Conformance-testing fixture: answers with one fixed text block.",
    input_schema: no_arguments,
    output_schema: None,
    run: |_| Box::pin(async { text("This is a simple text response for testing.") }),
};

/// `test_image_content`.
pub(crate) static IMAGE: OperationSpec = OperationSpec {
    key: "diagnostics.image",
    default_name: "test_image_content",
    title: "Diagnostics (conformance testing): image",
    description: "Conformance-testing fixture: answers with a 1x1 red PNG image block.",
    input_schema: no_arguments,
    output_schema: None,
    run: |_| Box::pin(async { Ok(ToolAnswer::Content(vec![image()])) }),
};

/// `test_audio_content`.
pub(crate) static AUDIO: OperationSpec = OperationSpec {
    key: "diagnostics.audio",
    default_name: "test_audio_content",
    title: "Diagnostics (conformance testing): audio",
    description: "Conformance-testing fixture: answers with a short WAV audio block.",
    input_schema: no_arguments,
    output_schema: None,
    run: |_| {
        Box::pin(async {
            Ok(ToolAnswer::Content(vec![ContentItem::Audio {
                data: SILENCE_WAV.to_owned(),
                mime_type: "audio/wav",
            }]))
        })
    },
};

/// `test_embedded_resource`.
pub(crate) static EMBEDDED_RESOURCE: OperationSpec = OperationSpec {
    key: "diagnostics.embedded_resource",
    default_name: "test_embedded_resource",
    title: "Diagnostics (conformance testing): embedded resource",
    description: "Conformance-testing fixture: answers with an embedded text resource.",
    input_schema: no_arguments,
    output_schema: None,
    run: |_| {
        Box::pin(async {
            Ok(ToolAnswer::Content(vec![ContentItem::Resource {
                uri: "test://embedded-resource",
                mime_type: "text/plain",
                text: "This is an embedded resource content.".to_owned(),
            }]))
        })
    },
};

/// `test_multiple_content_types`.
pub(crate) static MIXED_CONTENT: OperationSpec = OperationSpec {
    key: "diagnostics.mixed_content",
    default_name: "test_multiple_content_types",
    title: "Diagnostics (conformance testing): mixed content",
    description: "Conformance-testing fixture: answers with a text, an image and an embedded \
                  JSON resource in one result.",
    input_schema: no_arguments,
    output_schema: None,
    run: |_| {
        Box::pin(async {
            Ok(ToolAnswer::Content(vec![
                ContentItem::Text("Multiple content types test:".to_owned()),
                image(),
                ContentItem::Resource {
                    uri: "test://mixed-content-resource",
                    mime_type: "application/json",
                    text: json!({"test": "data", "value": 123}).to_string(),
                },
            ]))
        })
    },
};

/// `test_error_handling`.
pub(crate) static ERROR: OperationSpec = OperationSpec {
    key: "diagnostics.error",
    default_name: "test_error_handling",
    title: "Diagnostics (conformance testing): tool error",
    description: "Conformance-testing fixture: always fails with a tool error (isError).",
    input_schema: no_arguments,
    output_schema: None,
    run: |_| {
        Box::pin(async {
            Err(ToolFailure::Deliberate(
                "This tool intentionally returns an error for testing".to_owned(),
            ))
        })
    },
};

/// `test_tool_with_progress`.
pub(crate) static PROGRESS: OperationSpec = OperationSpec {
    key: "diagnostics.progress",
    default_name: "test_tool_with_progress",
    title: "Diagnostics (conformance testing): progress",
    description: "Conformance-testing fixture: reports progress 0, 50 and 100 of 100 when the \
                  request carries a progress token, then answers with a text.",
    input_schema: no_arguments,
    output_schema: None,
    run: |call| Box::pin(progress(call)),
};

async fn progress(call: ToolCall<'_>) -> Result<ToolAnswer, ToolFailure> {
    for step in [0.0, 50.0, 100.0] {
        call.events.progress(step, 100.0).await;
    }
    text("Progress test completed.")
}

/// `test_tool_with_logging` (2025-era clients set a level with `logging/setLevel`).
pub(crate) static LOGGING: OperationSpec = OperationSpec {
    key: "diagnostics.logging",
    default_name: "test_tool_with_logging",
    title: "Diagnostics (conformance testing): logging",
    description: "Conformance-testing fixture: sends three info log messages while it runs, \
                  then answers with a text.",
    input_schema: no_arguments,
    output_schema: None,
    run: |call| Box::pin(logging(call)),
};

/// `test_logging_tool` (2026-07-28: logs only when the request's `_meta` asks for a level).
pub(crate) static LOGGING_TOOL: OperationSpec = OperationSpec {
    key: "diagnostics.logging_tool",
    default_name: "test_logging_tool",
    title: "Diagnostics (conformance testing): logging on request",
    description: "Conformance-testing fixture: sends info log messages only when the request \
                  asked for a log level, then answers with a text.",
    input_schema: no_arguments,
    output_schema: None,
    run: |call| Box::pin(logging(call)),
};

async fn logging(call: ToolCall<'_>) -> Result<ToolAnswer, ToolFailure> {
    for message in [
        "Tool execution started",
        "Tool processing data",
        "Tool execution completed",
    ] {
        call.events.log(message.to_owned()).await;
    }
    text("Logging test completed.")
}

/// `json_schema_2020_12_tool`.
pub(crate) static JSON_SCHEMA: OperationSpec = OperationSpec {
    key: "diagnostics.json_schema_2020_12",
    default_name: "json_schema_2020_12_tool",
    title: "Diagnostics (conformance testing): JSON Schema 2020-12",
    description: "Conformance-testing fixture: an input schema using JSON Schema 2020-12 \
                  keywords ($schema, $defs with $anchor, $ref, allOf/anyOf, if/then/else).",
    input_schema: json_schema_2020_12,
    output_schema: None,
    run: |_| Box::pin(async { text("ok") }),
};

/// A contact record: a name, an address (through `$defs`), and a phone or an e-mail address,
/// whichever `contactMethod` says.
fn json_schema_2020_12() -> Value {
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "$defs": {
            "address": {
                "$anchor": "addressDef",
                "type": "object",
                "properties": {"street": {"type": "string"}, "city": {"type": "string"}}
            }
        },
        "properties": {
            "name": {"type": "string"},
            "address": {"$ref": "#/$defs/address"},
            "contactMethod": {"type": "string", "enum": ["phone", "email"]},
            "phone": {"type": "string"},
            "email": {"type": "string"}
        },
        "allOf": [{"anyOf": [{"required": ["phone"]}, {"required": ["email"]}]}],
        "if": {"properties": {"contactMethod": {"const": "phone"}}, "required": ["contactMethod"]},
        "then": {"required": ["phone"]},
        "else": {"required": ["email"]},
        "additionalProperties": false
    })
}

/// `test_missing_capability`.
pub(crate) static MISSING_CAPABILITY: OperationSpec = OperationSpec {
    key: "diagnostics.missing_capability",
    default_name: "test_missing_capability",
    title: "Diagnostics (conformance testing): needs sampling",
    description: "Conformance-testing fixture: refuses with MissingRequiredClientCapability \
                  (-32021) unless the request declares the sampling capability.",
    input_schema: no_arguments,
    output_schema: None,
    run: |call| {
        Box::pin(async move {
            if call.events.client_can_sample() {
                text("The client declared sampling.")
            } else {
                Err(ToolFailure::MissingClientCapability("sampling"))
            }
        })
    },
};

/// `test_trigger_tool_change`.
pub(crate) static TRIGGER_TOOL_CHANGE: OperationSpec = OperationSpec {
    key: "diagnostics.trigger_tool_change",
    default_name: "test_trigger_tool_change",
    title: "Diagnostics (conformance testing): announce a tool change",
    description: "Conformance-testing fixture: tells this tenant's open sessions and \
                  subscriptions that its tool list changed (the list itself stays as it is).",
    input_schema: no_arguments,
    output_schema: None,
    run: |call| {
        Box::pin(async move {
            call.events.tools_changed().await;
            text("Announced a tool-list change.")
        })
    },
};

#[cfg(test)]
mod tests {
    use crate::catalog::{NoEvents, Operation, Pack, ToolAnswer, ToolCall, ToolFailure};
    use crate::wordpress::{UpstreamError, WordPressApi};
    use futures::future::BoxFuture;
    use serde_json::{Map, Value};
    use std::sync::Arc;

    /// An upstream that fails the test if a diagnostics tool ever reaches it.
    struct NoUpstream;

    impl WordPressApi for NoUpstream {
        fn get_json<'a>(
            &'a self,
            path: &'a str,
            _query: &'a [(String, String)],
        ) -> BoxFuture<'a, Result<Arc<Value>, UpstreamError>> {
            panic!("a diagnostics tool called WordPress.org: {path}");
        }
    }

    #[tokio::test]
    async fn diagnostics_tools_never_reach_the_upstream_and_answer_as_the_suite_expects() {
        let args = Map::new();
        for op in Operation::DIAGNOSTICS {
            assert_eq!(op.pack(), Pack::Diagnostics);
            assert!(!op.has_output_schema(), "{op:?}");
            assert!(op.title().contains("conformance testing"), "{op:?}");
            let call = ToolCall {
                api: &NoUpstream,
                args: &args,
                events: &NoEvents,
            };
            match (op, op.run(call).await) {
                (Operation::DiagError, Err(ToolFailure::Deliberate(message))) => {
                    assert!(message.contains("intentionally"));
                }
                (
                    Operation::DiagMissingCapability,
                    Err(ToolFailure::MissingClientCapability(c)),
                ) => {
                    assert_eq!(c, "sampling");
                }
                (_, Ok(ToolAnswer::Content(items))) => assert!(!items.is_empty(), "{op:?}"),
                (op, other) => panic!("{op:?}: {other:?}"),
            }
        }
    }
}
