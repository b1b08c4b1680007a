//! Helpers shared by the tools: argument parsing, lenient reading of upstream JSON, and text.

use super::client::{UpstreamError, WordPressApi};
use crate::catalog::{Operation, ToolFailure};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use std::fmt::Write as _;

/// The longest short description kept in results.
pub(crate) const SHORT_TEXT_CHARS: usize = 300;
/// The longest section (description, changelog, …) kept when a caller asks for sections.
pub(crate) const SECTION_CHARS: usize = 5_000;

/// Deserializes tool arguments, turning serde's complaint into a message a model can act on.
pub(crate) fn parse_args<T: DeserializeOwned>(
    op: Operation,
    args: &Map<String, Value>,
) -> Result<T, ToolFailure> {
    serde_json::from_value(Value::Object(args.clone())).map_err(|e| {
        ToolFailure::InvalidArguments(format!(
            "{e}. Call {} with arguments matching its input schema.",
            op.default_name()
        ))
    })
}

/// Checks that an optional number lies in `min..=max`.
pub(crate) fn check_range(
    name: &str,
    value: Option<u32>,
    min: u32,
    max: u32,
) -> Result<(), ToolFailure> {
    match value {
        Some(v) if v < min || v > max => Err(ToolFailure::InvalidArguments(format!(
            "`{name}` must be between {min} and {max}, got {v}."
        ))),
        _ => Ok(()),
    }
}

/// Checks a plugin or theme slug: lowercase letters, digits, `-` and `_`.
pub(crate) fn check_slug(slug: &str, search_tool: &str) -> Result<(), ToolFailure> {
    let valid = !slug.is_empty()
        && slug.len() <= 200
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if valid {
        Ok(())
    } else {
        Err(ToolFailure::InvalidArguments(format!(
            "{slug:?} is not a valid slug: use the lowercase, hyphenated name from the \
             WordPress.org URL (e.g. \"twentytwentyfour\" or \"contact-form-7\"). \
             Find it with {search_tool}."
        )))
    }
}

/// Checks that every requested extra field is one the tool knows; returns them de-duplicated.
pub(crate) fn check_fields(
    requested: Option<&[String]>,
    allowed: &[&str],
) -> Result<Vec<String>, ToolFailure> {
    let mut fields: Vec<String> = Vec::new();
    for field in requested.unwrap_or_default() {
        if !allowed.contains(&field.as_str()) {
            return Err(ToolFailure::InvalidArguments(format!(
                "unknown entry {field:?} in `fields`; the extra fields available are: {}.",
                allowed.join(", ")
            )));
        }
        if !fields.contains(field) {
            fields.push(field.clone());
        }
    }
    Ok(fields)
}

/// Maps an upstream failure to a tool failure; `not_found` words a 404 for this tool.
pub(crate) fn upstream_failure(
    api: &dyn WordPressApi,
    error: UpstreamError,
    not_found: impl FnOnce(&str) -> String,
) -> ToolFailure {
    match error {
        UpstreamError::NotFound(message) => ToolFailure::NotFound(not_found(&message)),
        UpstreamError::BadRequest(message) => ToolFailure::Rejected(message),
        UpstreamError::Timeout => ToolFailure::Timeout {
            after: api.timeout(),
        },
        other => ToolFailure::Upstream(other),
    }
}

/// Deserializes a string or a list of strings into a list (for `tag`, which takes both).
pub(crate) fn string_or_list<'de, D>(deserializer: D) -> Result<Option<Vec<String>>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    struct Visitor;

    impl<'de> serde::de::Visitor<'de> for Visitor {
        type Value = Option<Vec<String>>;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a string or an array of strings")
        }

        fn visit_str<E: serde::de::Error>(self, value: &str) -> Result<Self::Value, E> {
            Ok(Some(vec![value.to_owned()]))
        }

        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> Result<Self::Value, A::Error> {
            let mut items = Vec::new();
            while let Some(item) = seq.next_element::<String>()? {
                items.push(item);
            }
            Ok(Some(items))
        }
    }

    deserializer.deserialize_any(Visitor)
}

/// Trims a text argument; blank is absent.
pub(crate) fn non_blank(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

/// Trims list entries and drops blank ones and repeats; an empty list is absent.
pub(crate) fn clean_list(values: Option<Vec<String>>) -> Option<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for value in values.unwrap_or_default() {
        let value = value.trim().to_owned();
        if !value.is_empty() && !out.contains(&value) {
            out.push(value);
        }
    }
    (!out.is_empty()).then_some(out)
}

/// Checks a WordPress version string such as `6.4` or `6.4.2`.
pub(crate) fn check_version(name: &str, version: &str) -> Result<(), ToolFailure> {
    let parts: Vec<&str> = version.split('.').collect();
    let valid = (1..=3).contains(&parts.len())
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 4 && p.bytes().all(|b| b.is_ascii_digit()));
    if valid {
        Ok(())
    } else {
        Err(ToolFailure::InvalidArguments(format!(
            "`{name}` must be a WordPress version such as \"6.4\" or \"6.4.2\", got {version:?}."
        )))
    }
}

/// The `info` block of a query answer: (page, pages, results).
pub(crate) fn page_info(answer: &Value) -> (u64, u64, u64) {
    let info = answer.get("info").unwrap_or(&Value::Null);
    let page = number(info, "page").unwrap_or(1).max(1);
    let pages = number(info, "pages").unwrap_or(1).max(1);
    let results = number(info, "results").unwrap_or(0);
    (page, pages, results)
}

/// Reads a `hot_tags` answer (`{slug: {name, slug, count}}`) into the `number` most used tags.
pub(crate) fn hot_tags(answer: &Value, number_wanted: usize) -> Vec<Value> {
    let mut tags: Vec<(String, String, u64)> = match answer {
        Value::Object(map) => map
            .iter()
            .filter_map(|(key, tag)| {
                let slug = text(tag, "slug").unwrap_or_else(|| key.clone());
                let name = text(tag, "name").unwrap_or_else(|| slug.clone());
                Some((slug, name, number(tag, "count")?))
            })
            .collect(),
        Value::Array(list) => list
            .iter()
            .filter_map(|tag| {
                Some((
                    text(tag, "slug")?,
                    text(tag, "name")?,
                    number(tag, "count")?,
                ))
            })
            .collect(),
        _ => Vec::new(),
    };
    tags.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| a.0.cmp(&b.0)));
    tags.into_iter()
        .take(number_wanted)
        .map(|(slug, name, count)| serde_json::json!({"slug": slug, "name": name, "count": count}))
        .collect()
}

/// The JSON Schema of a hot-tags result.
pub(crate) fn tags_output_schema(what: &str) -> Value {
    serde_json::json!({
        "type": "object",
        "properties": {
            "tags": {
                "type": "array",
                "description": "Tags, most used first.",
                "items": {
                    "type": "object",
                    "properties": {
                        "slug": {"type": "string", "description": "The tag as used in searches."},
                        "name": {"type": "string", "description": "Display name."},
                        "count": {"type": "integer", "description": format!("Number of {what} with this tag.")}
                    },
                    "required": ["slug", "name", "count"]
                }
            }
        },
        "required": ["tags"]
    })
}

/// The input schema of a hot-tags tool.
pub(crate) fn tags_input_schema() -> Value {
    serde_json::json!({
        "type": "object",
        "properties": {
            "number": {
                "type": "integer", "minimum": 1, "maximum": 500, "default": 30,
                "description": "How many tags to return, most used first."
            }
        },
        "additionalProperties": false
    })
}

/// Arguments of the hot-tags tools.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TagsArgs {
    /// How many tags.
    pub(crate) number: Option<u32>,
}

/// Builds a query string of `request[...]` parameters in WordPress.org's nested form.
#[derive(Debug, Default)]
pub(crate) struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    /// A query for `action`.
    pub(crate) fn action(action: &str) -> Self {
        let mut query = Self::default();
        query.pairs.push(("action".to_owned(), action.to_owned()));
        query
    }

    /// A plain `name=value` pair.
    pub(crate) fn plain<T: std::fmt::Display + ?Sized>(
        &mut self,
        name: &str,
        value: &T,
    ) -> &mut Self {
        self.pairs.push((name.to_owned(), value.to_string()));
        self
    }

    /// A plain pair, if there is a value.
    pub(crate) fn plain_opt(
        &mut self,
        name: &str,
        value: Option<impl std::fmt::Display>,
    ) -> &mut Self {
        if let Some(value) = value {
            self.plain(name, &value);
        }
        self
    }

    /// `request[name]=value`.
    pub(crate) fn request<T: std::fmt::Display + ?Sized>(
        &mut self,
        name: &str,
        value: &T,
    ) -> &mut Self {
        self.pairs
            .push((format!("request[{name}]"), value.to_string()));
        self
    }

    /// `request[name]=value`, if there is a value.
    pub(crate) fn request_opt(
        &mut self,
        name: &str,
        value: Option<impl std::fmt::Display>,
    ) -> &mut Self {
        if let Some(value) = value {
            self.request(name, &value);
        }
        self
    }

    /// `request[name][]=v` for each value.
    pub(crate) fn request_list(&mut self, name: &str, values: &[String]) -> &mut Self {
        for value in values {
            self.pairs
                .push((format!("request[{name}][]"), value.clone()));
        }
        self
    }

    /// `request[fields][f]=true` for each of `on`, then `=false` for each of `off` not in `on`.
    pub(crate) fn fields(&mut self, on: &[&str], off: &[&str]) -> &mut Self {
        for field in on {
            self.pairs
                .push((format!("request[fields][{field}]"), "true".to_owned()));
        }
        for field in off.iter().filter(|f| !on.contains(f)) {
            self.pairs
                .push((format!("request[fields][{field}]"), "false".to_owned()));
        }
        self
    }

    /// The pairs, ready for [`WordPressApi::get_json`].
    pub(crate) fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }
}

/// A string field: strings as they are (HTML entities decoded), numbers as text; empty is none.
pub(crate) fn text(value: &Value, key: &str) -> Option<String> {
    scalar_text(value.get(key)?)
}

/// A scalar as text; `false`, null, objects, arrays and empty strings are none.
pub(crate) fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => {
            let s = decode_entities(s.trim());
            (!s.is_empty()).then_some(s)
        }
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A non-negative whole number, accepting numbers, floats and strings like `"1,000+"`.
pub(crate) fn number(value: &Value, key: &str) -> Option<u64> {
    scalar_number(value.get(key)?)
}

/// See [`number`].
pub(crate) fn scalar_number(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => n.as_u64().or_else(|| {
            n.as_f64()
                .filter(|f| f.is_finite() && *f >= 0.0)
                .map(|f| f.round() as u64)
        }),
        Value::String(s) => {
            let digits: String = s
                .trim()
                .trim_end_matches('+')
                .chars()
                .filter(|c| *c != ',' && *c != '_')
                .collect();
            digits.parse::<u64>().ok().or_else(|| {
                digits
                    .parse::<f64>()
                    .ok()
                    .filter(|f| f.is_finite() && *f >= 0.0)
                    .map(|f| f.round() as u64)
            })
        }
        _ => None,
    }
}

/// A float, accepting numbers and numeric strings.
pub(crate) fn float(value: &Value, key: &str) -> Option<f64> {
    match value.get(key)? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .filter(|f: &f64| f.is_finite())
}

/// A URL field: scheme-relative (`//ts.w.org/…`) and `http:` URLs become `https:`.
pub(crate) fn https_url(value: &Value, key: &str) -> Option<String> {
    text(value, key).map(|url| to_https(&url))
}

/// See [`https_url`].
pub(crate) fn to_https(url: &str) -> String {
    if let Some(rest) = url.strip_prefix("//") {
        format!("https://{rest}")
    } else if let Some(rest) = url.strip_prefix("http://") {
        format!("https://{rest}")
    } else {
        url.to_owned()
    }
}

/// Inserts `value` under `key` if there is one.
pub(crate) fn put(map: &mut Map<String, Value>, key: &str, value: Option<impl Into<Value>>) {
    if let Some(value) = value {
        map.insert(key.to_owned(), value.into());
    }
}

/// An upstream field copied for a caller who asked for it: PHP's empty `[]` for an empty
/// map becomes `{}` where a map is expected, HTML sections become plain text.
pub(crate) fn extra_value(key: &str, value: &Value) -> Value {
    match (key, value) {
        ("sections", Value::Object(sections)) => Value::Object(
            sections
                .iter()
                .filter_map(|(name, html)| {
                    let text = html.as_str().map(html_to_text)?;
                    Some((name.clone(), Value::String(truncate(&text, SECTION_CHARS))))
                })
                .collect(),
        ),
        ("description", Value::String(html)) => {
            Value::String(truncate(&html_to_text(html), SECTION_CHARS))
        }
        (
            "sections" | "versions" | "tags" | "ratings" | "contributors" | "icons" | "parent",
            Value::Array(items),
        ) if items.is_empty() => Value::Object(Map::new()),
        _ => value.clone(),
    }
}

/// Plain text from HTML: tags removed (with `<script>`/`<style>` content), block ends as line
/// breaks, entities decoded, white space collapsed.
pub(crate) fn html_to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        out.push_str(&rest[..start]);
        let after = &rest[start..];
        let Some(end) = after.find('>') else {
            // A lone '<' is text.
            out.push_str(after);
            rest = "";
            break;
        };
        let tag = after[1..end].trim().to_ascii_lowercase();
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        rest = &after[end + 1..];
        if !tag.starts_with('/') && (name == "script" || name == "style") {
            let close = format!("</{name}");
            match rest.to_ascii_lowercase().find(&close) {
                Some(pos) => {
                    rest = &rest[pos..];
                    if let Some(gt) = rest.find('>') {
                        rest = &rest[gt + 1..];
                    }
                }
                None => rest = "",
            }
            continue;
        }
        if is_block_tag(&name) {
            out.push('\n');
        } else if name == "li" {
            out.push_str(if tag.starts_with('/') { "\n" } else { "\n- " });
        } else if name == "td" || name == "th" {
            out.push(' ');
        }
    }
    out.push_str(rest);
    collapse_whitespace(&decode_entities(&out))
}

fn is_block_tag(name: &str) -> bool {
    matches!(
        name,
        "p" | "br"
            | "div"
            | "ul"
            | "ol"
            | "h1"
            | "h2"
            | "h3"
            | "h4"
            | "h5"
            | "h6"
            | "tr"
            | "table"
            | "blockquote"
            | "pre"
            | "dl"
            | "dt"
            | "dd"
            | "hr"
            | "section"
    )
}

/// Collapses runs of spaces to one and runs of blank lines to one line break; trims lines.
fn collapse_whitespace(text: &str) -> String {
    let mut lines: Vec<String> = Vec::new();
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        if !words.is_empty() {
            lines.push(words.join(" "));
        }
    }
    lines.join("\n")
}

/// Plain text on one line: [`html_to_text`] with line breaks as spaces.
pub(crate) fn one_line(html: &str) -> String {
    html_to_text(html)
        .replace("\n- ", "; ")
        .replace('\n', " ")
        .trim_start_matches("- ")
        .to_owned()
}

/// Decodes the HTML entities WordPress produces: named ones in common use and numeric ones.
pub(crate) fn decode_entities(text: &str) -> String {
    if !text.contains('&') {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp..];
        let decoded = after
            .find(';')
            .filter(|semi| *semi <= 10)
            .and_then(|semi| decode_entity(&after[1..semi]).map(|c| (c, semi)));
        match decoded {
            Some((c, semi)) => {
                out.push(c);
                rest = &after[semi + 1..];
            }
            None => {
                out.push('&');
                rest = &after[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn decode_entity(name: &str) -> Option<char> {
    if let Some(num) = name.strip_prefix('#') {
        let code = match num.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => num.parse().ok()?,
        };
        return char::from_u32(code);
    }
    Some(match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        "nbsp" => ' ',
        "hellip" => '…',
        "ndash" => '–',
        "mdash" => '—',
        "lsquo" => '‘',
        "rsquo" => '’',
        "ldquo" => '“',
        "rdquo" => '”',
        "copy" => '©',
        "reg" => '®',
        "trade" => '™',
        "laquo" => '«',
        "raquo" => '»',
        "middot" => '·',
        "bull" => '•',
        _ => return None,
    })
}

/// At most `max` characters, cut at a word boundary where one is near, ending in `…` if cut.
pub(crate) fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let cut: String = text.chars().take(max.saturating_sub(1)).collect();
    let cut = match cut.rfind(char::is_whitespace) {
        Some(space) if space > cut.len() * 3 / 4 => cut[..space].trim_end().to_owned(),
        _ => cut,
    };
    format!("{cut}…")
}

/// `1234567` → `1,234,567`.
pub(crate) fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// One line per item, numbered, at most `limit` lines and a note on the rest.
pub(crate) fn numbered_lines(items: &[String], limit: usize) -> String {
    let mut out = String::new();
    for (i, item) in items.iter().take(limit).enumerate() {
        let _ = write!(out, "\n{}. {item}", i + 1);
    }
    if items.len() > limit {
        let _ = write!(out, "\n… and {} more.", items.len() - limit);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn html_is_stripped_to_readable_text() {
        let html = "<p>A <strong>fast</strong> theme &amp; more&#8230;</p>\
                    <ul><li>One</li><li>Two</li></ul><script>alert(1)</script>Done";
        assert_eq!(
            html_to_text(html),
            "A fast theme & more…\n- One\n- Two\nDone"
        );
        assert_eq!(one_line(html), "A fast theme & more…; One; Two Done");
        assert_eq!(one_line("<a href=\"x\">Automattic</a>"), "Automattic");
        assert_eq!(one_line("no tags at all"), "no tags at all");
        assert_eq!(one_line("unclosed < here"), "unclosed < here");
    }

    #[test]
    fn entities_are_decoded_and_unknown_ones_kept() {
        assert_eq!(
            decode_entities("It&#039;s &quot;x&quot; &#x2014; &bogus; & y"),
            "It's \"x\" — &bogus; & y"
        );
    }

    #[test]
    fn truncation_cuts_at_words_and_marks_the_cut() {
        let text = "word ".repeat(100);
        let cut = truncate(&text, 50);
        assert!(cut.chars().count() <= 50);
        assert!(cut.ends_with("word…"));
        assert_eq!(truncate("short", 50), "short");
        assert_eq!(truncate("ééééé", 3), "éé…");
    }

    #[test]
    fn numbers_are_read_leniently() {
        let v = json!({"a": 5, "b": "1,000+", "c": 4.6, "d": "x", "e": false, "f": "12"});
        assert_eq!(number(&v, "a"), Some(5));
        assert_eq!(number(&v, "b"), Some(1000));
        assert_eq!(number(&v, "c"), Some(5));
        assert_eq!(number(&v, "d"), None);
        assert_eq!(number(&v, "e"), None);
        assert_eq!(number(&v, "f"), Some(12));
        assert_eq!(number(&v, "missing"), None);
        assert_eq!(float(&json!({"x": "52.5"}), "x"), Some(52.5));
    }

    #[test]
    fn urls_are_normalised_to_https() {
        assert_eq!(
            to_https("//ts.w.org/a.png?ver=1"),
            "https://ts.w.org/a.png?ver=1"
        );
        assert_eq!(to_https("http://example.org"), "https://example.org");
        assert_eq!(to_https("https://example.org"), "https://example.org");
        assert_eq!(
            https_url(&json!({"u": false}), "u"),
            None,
            "false is no URL"
        );
    }

    #[test]
    fn thousands_are_separated() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

    #[test]
    fn fields_are_checked_and_deduplicated() {
        let asked = vec!["sections".to_owned(), "sections".to_owned()];
        assert_eq!(
            check_fields(Some(&asked), &["sections", "versions"]).expect("valid"),
            vec!["sections".to_owned()]
        );
        let bad = vec!["nope".to_owned()];
        let error = check_fields(Some(&bad), &["sections"]).expect_err("invalid");
        assert!(error.to_string().contains("sections"));
        assert!(check_fields(None, &["sections"]).expect("none").is_empty());
    }

    #[test]
    fn slugs_are_checked() {
        assert!(check_slug("contact-form-7", "x").is_ok());
        assert!(check_slug("wp_super_cache", "x").is_ok());
        assert!(check_slug("Contact Form 7", "x").is_err());
        assert!(check_slug("", "x").is_err());
        assert!(check_slug("../etc", "x").is_err());
    }

    #[test]
    fn nested_query_parameters_are_built() {
        let mut query = Query::action("query_themes");
        query
            .request("search", "blue")
            .request_list("tag", &["a".to_owned(), "b".to_owned()])
            .fields(&["description"], &["sections", "description"]);
        let pairs: Vec<(&str, &str)> = query
            .pairs()
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            pairs,
            vec![
                ("action", "query_themes"),
                ("request[search]", "blue"),
                ("request[tag][]", "a"),
                ("request[tag][]", "b"),
                ("request[fields][description]", "true"),
                ("request[fields][sections]", "false"),
            ]
        );
    }

    #[test]
    fn empty_php_arrays_become_objects_where_maps_are_expected() {
        assert_eq!(extra_value("tags", &json!([])), json!({}));
        assert_eq!(extra_value("screenshots", &json!([])), json!([]));
        assert_eq!(
            extra_value("sections", &json!({"description": "<p>Hi</p>"})),
            json!({"description": "Hi"})
        );
    }
}
