//! Tidy checks on the source tree: the structural rules ARCHITECTURE.md states, checked so they
//! stay true. They read the files; nothing runs.
//!
//! - Only store files (`…/store.rs` and files under a `store/` folder) import `entity`, the
//!   sea-orm entities (besides the entities themselves).
//! - A vendor crate is named only in its adapter: async-stripe in `billing/stripe.rs` and
//!   `billing/stripe/pooled.rs`, oauth2 in `oauth/github.rs`, reqwest in the adapters that call
//!   out (`oauth/github.rs`, `oauth/metadata_document.rs` and its tests, `wordpress/client.rs`,
//!   `billing/stripe/pooled.rs`).
//! - Every Rust file of the shipped crates opens with a `//!` comment saying what it is for.

use std::path::{Path, PathBuf};

/// The workspace root (the tests crate sits in `tests/`).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate is inside the workspace")
        .to_path_buf()
}

/// Every `.rs` file under `dir`, as paths relative to the workspace root, sorted.
fn rust_files(dir: &str) -> Vec<String> {
    let root = root();
    let mut out = Vec::new();
    let mut pending = vec![root.join(dir)];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).expect("a source folder") {
            let path = entry.expect("a folder entry").path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let relative = path.strip_prefix(&root).expect("under the root");
                out.push(relative.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    out.sort();
    out
}

fn read(relative: &str) -> String {
    std::fs::read_to_string(root().join(relative)).expect("a readable source file")
}

/// The file's code lines, without line comments and doc comments, so that prose may name a
/// crate or a module without breaking a rule.
fn code_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines().enumerate().filter_map(|(i, line)| {
        let code = line.split("//").next().unwrap_or_default();
        (!code.trim().is_empty()).then_some((i + 1, code))
    })
}

/// Whether `code` names the crate or module `name` as a path (`name::…`), not as a part of
/// another word (`identity::`) or of a path (`foo::name::`).
fn names_path(code: &str, name: &str) -> bool {
    let needle = format!("{name}::");
    code.match_indices(&needle).any(|(at, _)| {
        let before = &code[..at];
        let prior = before.chars().next_back();
        let is_word = prior.is_some_and(|c| c.is_alphanumeric() || c == '_');
        let after_path = before.ends_with("::") && !before.ends_with("crate::");
        !is_word && !after_path
    }) || code.contains(&format!("use {name};"))
}

/// `file:line` of every code line in `files` that names one of `names` as a path.
fn uses_of(files: &[String], names: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    for file in files {
        let text = read(file);
        // A file's own submodule may share a crate's name (`billing/stripe.rs` is `stripe`).
        let own_module = |name: &&str| {
            text.lines().any(|l| {
                l.trim_start()
                    .trim_start_matches("pub ")
                    .starts_with(&format!("mod {name};"))
            })
        };
        let names: Vec<&str> = names.iter().copied().filter(|n| !own_module(n)).collect();
        for (line, code) in code_lines(&text) {
            if names.iter().any(|name| names_path(code, name)) {
                found.push(format!("{file}:{line}: {}", code.trim()));
            }
        }
    }
    found
}

fn is_store_file(file: &str) -> bool {
    file.ends_with("/store.rs") || file.contains("/store/")
}

#[test]
fn only_store_files_import_the_entities() {
    let files: Vec<String> = rust_files("server/src")
        .into_iter()
        .filter(|f| !is_store_file(f))
        .filter(|f| !f.starts_with("server/src/entity"))
        .collect();
    let found = uses_of(&files, &["entity"]);
    assert!(
        found.is_empty(),
        "only store files may use `entity` (the sea-orm entities); move these queries into a \
         store.rs:\n{}",
        found.join("\n")
    );
}

#[test]
fn vendor_crates_appear_only_in_their_adapters() {
    let files = rust_files("server/src");
    let rules: [(&[&str], &[&str]); 3] = [
        (
            &[
                "stripe",
                "stripe_types",
                "stripe_shared",
                "stripe_core",
                "stripe_checkout",
                "stripe_billing",
                "stripe_client_core",
                "miniserde",
            ],
            &[
                "server/src/billing/stripe.rs",
                "server/src/billing/stripe/pooled.rs",
            ],
        ),
        (&["oauth2"], &["server/src/oauth/github.rs"]),
        (
            &["reqwest"],
            &[
                "server/src/oauth/github.rs",
                "server/src/oauth/metadata_document.rs",
                "server/src/oauth/metadata_document/tests.rs",
                "server/src/wordpress/client.rs",
                "server/src/billing/stripe/pooled.rs",
            ],
        ),
    ];
    let mut found = Vec::new();
    for (crates, adapters) in rules {
        let others: Vec<String> = files
            .iter()
            .filter(|f| !adapters.contains(&f.as_str()))
            .cloned()
            .collect();
        for hit in uses_of(&others, crates) {
            found.push(format!("{hit}   (allowed only in {})", adapters.join(", ")));
        }
    }
    assert!(
        found.is_empty(),
        "a vendor crate outside its adapter; go through the port (trait) instead:\n{}",
        found.join("\n")
    );
}

#[test]
fn every_source_file_opens_with_a_module_comment() {
    let mut missing = Vec::new();
    for dir in [
        "server/src",
        "migration/src",
        "api-types/src",
        "frontend/src",
    ] {
        for file in rust_files(dir) {
            if !read(&file).starts_with("//!") {
                missing.push(file);
            }
        }
    }
    assert!(
        missing.is_empty(),
        "these files do not open with a `//!` line saying what they are for:\n{}",
        missing.join("\n")
    );
}

#[test]
fn the_path_rule_tells_a_crate_from_a_longer_word_or_path() {
    assert!(names_path("use reqwest::Client;", "reqwest"));
    assert!(names_path("    let c = reqwest::Client::new();", "reqwest"));
    assert!(names_path("use crate::entity::{tool, tenant};", "entity"));
    assert!(!names_path(
        "use crate::oauth::github::UpstreamIdentity;",
        "entity"
    ));
    assert!(!names_path("let x = identity::of(y);", "entity"));
    assert!(!names_path("use foo::stripe::Thing;", "stripe"));
    assert!(names_path("use stripe::Client;", "stripe"));
}
