//! The diagnostics tool pack: development-only fixture tools for protocol conformance testing.
//!
//! These are the tools the official MCP conformance suite (npm `@modelcontextprotocol/conformance`)
//! calls by name: plain text, image, audio, embedded resource, mixed content, a tool error,
//! progress, logging, a JSON Schema 2020-12 input schema, a tool needing an undeclared client
//! capability, a hook that announces a tool-list change, and the multi-round tool calls of
//! 2026-07-28 (`input_required`: elicitation, sampling, roots, request state). They are catalog operations like
//! the WordPress.org ones, but no tenant has them unless an operator adds them (they are never
//! part of the pack new tenants get, nor of the demo seed). They are free, keep no state and
//! never call WordPress.org, so enabling them cannot cost a tenant anything; their titles say
//! they are for conformance testing, which is what the dashboard's tool picker shows.

use crate::catalog::{ContentItem, OperationSpec, ToolAnswer, ToolCall, ToolFailure};
use serde_json::{Map, Value, json};

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
            if call.events.client_declares("sampling") {
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

// ----- multi-round tool calls (2026-07-28 `input_required`) -----

/// A multi-round fixture: what it asks in each round, and what it says when all is answered.
/// A stateful fixture sends a `requestState` naming the round, sealed under the master key for
/// this tenant and fixture, so an altered state is refused (`-32602`); it is a fixture's
/// round counter, not a grant, so it needs no expiry or single use.
struct Rounds {
    purpose: &'static str,
    stateful: bool,
    rounds: fn() -> Vec<Vec<(&'static str, Value)>>,
    done: fn(&Map<String, Value>, bool) -> String,
}

fn elicit(message: &str, field: &str, kind: &str) -> Value {
    json!({"method": "elicitation/create", "params": {
        "message": message,
        "requestedSchema": {"type": "object", "properties": {field: {"type": kind}}, "required": [field]}
    }})
}

fn sample(question: &str, max_tokens: u32) -> Value {
    json!({"method": "sampling/createMessage", "params": {
        "messages": [{"role": "user", "content": {"type": "text", "text": question}}],
        "maxTokens": max_tokens
    }})
}

fn list_roots() -> Value {
    json!({"method": "roots/list", "params": {}})
}

/// The client capability a request needs.
fn capability_of(request: &Value) -> &'static str {
    match request["method"].as_str() {
        Some("sampling/createMessage") => "sampling",
        Some("roots/list") => "roots",
        _ => "elicitation",
    }
}

/// A text field of an elicitation answer (`{"action": "accept", "content": {…}}`).
fn answered(responses: &Map<String, Value>, key: &str, field: &str) -> String {
    responses[key]["content"][field]
        .as_str()
        .unwrap_or("?")
        .to_owned()
}

async fn rounds(call: ToolCall<'_>, fixture: &Rounds) -> Result<ToolAnswer, ToolFailure> {
    let rounds = (fixture.rounds)();
    let (round, verified) = match &call.input.state {
        None => (0, false),
        Some(sealed) => {
            let round = call
                .events
                .open_state(fixture.purpose, sealed)
                .and_then(|plain| plain.parse::<usize>().ok())
                .filter(|round| *round < rounds.len())
                .ok_or(ToolFailure::InvalidRequestState)?;
            (round, true)
        }
    };
    let asked: Vec<(String, Value)> = rounds[round]
        .iter()
        .filter(|(_, request)| call.events.client_declares(capability_of(request)))
        .map(|(key, request)| ((*key).to_owned(), request.clone()))
        .collect();
    if asked.is_empty() {
        return Err(ToolFailure::Deliberate(
            "The client declared none of the capabilities this tool asks through (elicitation, \
             sampling, roots)."
                .to_owned(),
        ));
    }
    // Unknown extra answers are ignored; a missing one, or one that is not a result object,
    // is asked again.
    let complete = asked
        .iter()
        .all(|(key, _)| call.input.responses.get(key).is_some_and(Value::is_object));
    let next = match (complete, round + 1 < rounds.len()) {
        (false, _) => round,
        (true, true) => round + 1,
        (true, false) => {
            return text(&(fixture.done)(&call.input.responses, verified));
        }
    };
    let requests = if next == round {
        asked
    } else {
        rounds[next]
            .iter()
            .filter(|(_, request)| call.events.client_declares(capability_of(request)))
            .map(|(key, request)| ((*key).to_owned(), request.clone()))
            .collect()
    };
    let state = if fixture.stateful {
        Some(
            call.events
                .seal_state(fixture.purpose, &next.to_string())
                .ok_or(ToolFailure::InvalidRequestState)?,
        )
    } else {
        None
    };
    Ok(ToolAnswer::InputRequired { requests, state })
}

static ELICITATION_ROUNDS: Rounds = Rounds {
    purpose: "diagnostics.input_elicitation",
    stateful: false,
    rounds: || {
        vec![vec![(
            "user_name",
            elicit("What is your name?", "name", "string"),
        )]]
    },
    done: |responses, _| format!("Hello, {}!", answered(responses, "user_name", "name")),
};

/// `test_input_required_result_elicitation`.
pub(crate) static INPUT_ELICITATION: OperationSpec = OperationSpec {
    key: "diagnostics.input_elicitation",
    default_name: "test_input_required_result_elicitation",
    title: "Diagnostics (conformance testing): asks for a name",
    description: "Conformance-testing fixture: answers input_required with one elicitation \
                  (user_name), then greets the name it got.",
    input_schema: no_arguments,
    output_schema: None,
    run: |call| Box::pin(rounds(call, &ELICITATION_ROUNDS)),
};

static SAMPLING_ROUNDS: Rounds = Rounds {
    purpose: "diagnostics.input_sampling",
    stateful: false,
    rounds: || {
        vec![vec![(
            "capital_question",
            sample("What is the capital of France?", 100),
        )]]
    },
    done: |responses, _| {
        let said = responses["capital_question"]["content"]["text"]
            .as_str()
            .unwrap_or("?");
        format!("The model answered: {said}")
    },
};

/// `test_input_required_result_sampling`.
pub(crate) static INPUT_SAMPLING: OperationSpec = OperationSpec {
    key: "diagnostics.input_sampling",
    default_name: "test_input_required_result_sampling",
    title: "Diagnostics (conformance testing): asks the client's model",
    description: "Conformance-testing fixture: answers input_required with one sampling request \
                  (capital_question), then repeats the answer.",
    input_schema: no_arguments,
    output_schema: None,
    run: |call| Box::pin(rounds(call, &SAMPLING_ROUNDS)),
};

static LIST_ROOTS_ROUNDS: Rounds = Rounds {
    purpose: "diagnostics.input_list_roots",
    stateful: false,
    rounds: || vec![vec![("client_roots", list_roots())]],
    done: |responses, _| {
        let uris: Vec<&str> = responses["client_roots"]["roots"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|root| root["uri"].as_str())
            .collect();
        format!("The client's roots: {}", uris.join(", "))
    },
};

/// `test_input_required_result_list_roots`.
pub(crate) static INPUT_LIST_ROOTS: OperationSpec = OperationSpec {
    key: "diagnostics.input_list_roots",
    default_name: "test_input_required_result_list_roots",
    title: "Diagnostics (conformance testing): asks for the client's roots",
    description: "Conformance-testing fixture: answers input_required with one roots/list \
                  request (client_roots), then lists the roots it got.",
    input_schema: no_arguments,
    output_schema: None,
    run: |call| Box::pin(rounds(call, &LIST_ROOTS_ROUNDS)),
};

static REQUEST_STATE_ROUNDS: Rounds = Rounds {
    purpose: "diagnostics.input_request_state",
    stateful: true,
    rounds: || vec![vec![("confirm", elicit("Please confirm", "ok", "boolean"))]],
    done: |_, verified| {
        if verified {
            "state-ok: the request state verified.".to_owned()
        } else {
            "Confirmed, without a request state.".to_owned()
        }
    },
};

/// `test_input_required_result_request_state`.
pub(crate) static INPUT_REQUEST_STATE: OperationSpec = OperationSpec {
    key: "diagnostics.input_request_state",
    default_name: "test_input_required_result_request_state",
    title: "Diagnostics (conformance testing): asks with a request state",
    description: "Conformance-testing fixture: answers input_required with an elicitation and a \
                  sealed requestState, and says state-ok when the state comes back intact.",
    input_schema: no_arguments,
    output_schema: None,
    run: |call| Box::pin(rounds(call, &REQUEST_STATE_ROUNDS)),
};

static MULTIPLE_ROUNDS: Rounds = Rounds {
    purpose: "diagnostics.input_multiple",
    stateful: true,
    rounds: || {
        vec![vec![
            ("user_name", elicit("What is your name?", "name", "string")),
            ("greeting", sample("Generate a greeting", 50)),
            ("client_roots", list_roots()),
        ]]
    },
    done: |responses, _| {
        format!(
            "Received every input, {}.",
            answered(responses, "user_name", "name")
        )
    },
};

/// `test_input_required_result_multiple_inputs`.
pub(crate) static INPUT_MULTIPLE: OperationSpec = OperationSpec {
    key: "diagnostics.input_multiple",
    default_name: "test_input_required_result_multiple_inputs",
    title: "Diagnostics (conformance testing): asks three things at once",
    description: "Conformance-testing fixture: answers input_required with an elicitation, a \
                  sampling and a roots/list request and a requestState.",
    input_schema: no_arguments,
    output_schema: None,
    run: |call| Box::pin(rounds(call, &MULTIPLE_ROUNDS)),
};

static MULTI_ROUND_ROUNDS: Rounds = Rounds {
    purpose: "diagnostics.input_multi_round",
    stateful: true,
    rounds: || {
        vec![
            vec![(
                "step1",
                elicit("Step 1: What is your name?", "name", "string"),
            )],
            vec![(
                "step2",
                elicit("Step 2: What is your favorite color?", "color", "string"),
            )],
        ]
    },
    done: |responses, _| {
        format!(
            "Both rounds answered (favourite colour: {}).",
            answered(responses, "step2", "color")
        )
    },
};

/// `test_input_required_result_multi_round`.
pub(crate) static INPUT_MULTI_ROUND: OperationSpec = OperationSpec {
    key: "diagnostics.input_multi_round",
    default_name: "test_input_required_result_multi_round",
    title: "Diagnostics (conformance testing): asks in two rounds",
    description: "Conformance-testing fixture: answers input_required twice (a name, then a \
                  colour), with a new requestState each round.",
    input_schema: no_arguments,
    output_schema: None,
    run: |call| Box::pin(rounds(call, &MULTI_ROUND_ROUNDS)),
};

static CAPABILITIES_ROUNDS: Rounds = Rounds {
    purpose: "diagnostics.input_capabilities",
    stateful: false,
    rounds: || {
        vec![vec![
            ("user_name", elicit("What is your name?", "name", "string")),
            (
                "capital_question",
                sample("What is the capital of France?", 100),
            ),
        ]]
    },
    done: |_, _| "Received what the client could give.".to_owned(),
};

/// `test_input_required_result_capabilities`.
pub(crate) static INPUT_CAPABILITIES: OperationSpec = OperationSpec {
    key: "diagnostics.input_capabilities",
    default_name: "test_input_required_result_capabilities",
    title: "Diagnostics (conformance testing): asks only what the client can answer",
    description: "Conformance-testing fixture: answers input_required with an elicitation and a \
                  sampling request, leaving out those the client did not declare.",
    input_schema: no_arguments,
    output_schema: None,
    run: |call| Box::pin(rounds(call, &CAPABILITIES_ROUNDS)),
};

static TAMPERED_STATE_ROUNDS: Rounds = Rounds {
    purpose: "diagnostics.input_tampered_state",
    stateful: true,
    rounds: || vec![vec![("confirm", elicit("Please confirm", "ok", "boolean"))]],
    done: |_, _| "state-ok".to_owned(),
};

/// `test_input_required_result_tampered_state`.
pub(crate) static INPUT_TAMPERED_STATE: OperationSpec = OperationSpec {
    key: "diagnostics.input_tampered_state",
    default_name: "test_input_required_result_tampered_state",
    title: "Diagnostics (conformance testing): refuses an altered request state",
    description: "Conformance-testing fixture: answers input_required with a sealed \
                  requestState and refuses (-32602) a state that was altered.",
    input_schema: no_arguments,
    output_schema: None,
    run: |call| Box::pin(rounds(call, &TAMPERED_STATE_ROUNDS)),
};

/// `test_streaming_elicitation`: in 2026-07-28 a server asks mid-call through `input_required`,
/// never by a request of its own on the response stream.
pub(crate) static STREAMING_ELICITATION: OperationSpec = OperationSpec {
    key: "diagnostics.streaming_elicitation",
    default_name: "test_streaming_elicitation",
    title: "Diagnostics (conformance testing): asks while it runs",
    description: "Conformance-testing fixture: asks for a name through input_required (no \
                  request of its own on the response stream), then greets it.",
    input_schema: no_arguments,
    output_schema: None,
    run: |call| Box::pin(rounds(call, &ELICITATION_ROUNDS)),
};

#[cfg(test)]
mod tests {
    use crate::catalog::{CallInput, NoEvents, Operation, Pack, ToolAnswer, ToolCall, ToolFailure};
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
            let input = CallInput::default();
            let call = ToolCall {
                api: &NoUpstream,
                args: &args,
                events: &NoEvents,
                input: &input,
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
                // `NoEvents` declares no client capability, so the fixtures that ask the client
                // have nothing to ask through.
                (_, Err(ToolFailure::Deliberate(message))) if message.contains("declared none") => {
                }
                (op, other) => panic!("{op:?}: {other:?}"),
            }
        }
    }
}
