//! Form parameters in Stripe's bracket notation.

use super::*;

/// Form pairs in Stripe's bracket notation (`metadata[tenant]=x`, `line_items[0][price]=p`).
pub(super) struct Form<'a>(pub(super) &'a [(String, String)]);

impl Form<'_> {
    /// The last non-empty value of `key` (Stripe reads an empty string as unset).
    pub(super) fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, v)| k == key && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    /// Whether any parameter is `name` or under it.
    pub(super) fn has(&self, name: &str) -> bool {
        self.0
            .iter()
            .any(|(key, _)| key.split('[').next() == Some(name))
    }

    /// `prefix[key]=value` pairs as a JSON object of strings.
    pub(super) fn map(&self, prefix: &str) -> Map<String, Value> {
        self.0
            .iter()
            .filter(|(_, value)| !value.is_empty())
            .filter_map(|(key, value)| {
                let inner = key
                    .strip_prefix(prefix)?
                    .strip_prefix('[')?
                    .strip_suffix(']')?;
                (!inner.contains(['[', ']'])).then(|| (inner.to_owned(), json!(value)))
            })
            .collect()
    }

    /// `prefix[]=a` or `prefix[0]=a`, in order.
    pub(super) fn list(&self, prefix: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(key, _)| {
                key.strip_prefix(prefix)
                    .and_then(|rest| rest.strip_prefix('['))
                    .and_then(|rest| rest.strip_suffix(']'))
                    .is_some_and(|index| index.chars().all(|c| c.is_ascii_digit()))
            })
            .map(|(_, value)| value.clone())
            .collect()
    }

    /// `prefix[i][rest]=v` grouped by `i`, each as `(rest, v)` with `rest` like `price` or
    /// `price_data[currency]`.
    pub(super) fn indexed(&self, prefix: &str) -> BTreeMap<usize, Vec<(String, String)>> {
        let mut groups: BTreeMap<usize, Vec<(String, String)>> = BTreeMap::new();
        for (key, value) in self.0 {
            let Some(rest) = key.strip_prefix(prefix).and_then(|r| r.strip_prefix('[')) else {
                continue;
            };
            let Some((index, rest)) = rest.split_once(']') else {
                continue;
            };
            let Ok(index) = index.parse::<usize>() else {
                continue;
            };
            let Some(rest) = rest.strip_prefix('[') else {
                continue;
            };
            let field = rest.replacen(']', "", 1);
            groups
                .entry(index)
                .or_default()
                .push((field, value.clone()));
        }
        groups
    }

    /// An integer parameter, or Stripe's refusal of a malformed one.
    pub(super) fn integer(&self, key: &str) -> Result<Option<i64>, Reply> {
        match self.get(key) {
            None => Ok(None),
            Some(text) => text.parse().map(Some).map_err(|_| {
                invalid_request(
                    StatusCode::BAD_REQUEST,
                    Some("parameter_invalid_integer"),
                    Some(key),
                    &format!("Invalid integer: {text}"),
                )
            }),
        }
    }

    /// Stripe's refusal of the first top-level parameter the endpoint does not take.
    pub(super) fn reject_unknown(&self, allowed: &[&str]) -> Option<Reply> {
        self.0.iter().find_map(|(key, _)| {
            let top = key.split('[').next().unwrap_or_default();
            (!allowed.contains(&top)).then(|| unknown_parameter(top))
        })
    }

    /// Stripe's limits on metadata: 50 keys, keys up to 40 characters without brackets,
    /// values up to 500 characters.
    pub(super) fn check_metadata(&self, prefix: &str) -> Option<Reply> {
        let metadata = self.map(prefix);
        if metadata.len() > 50 {
            return Some(bad_param(
                prefix,
                "Invalid metadata: metadata can have up to 50 keys.",
            ));
        }
        metadata.iter().find_map(|(key, value)| {
            let param = format!("{prefix}[{key}]");
            if key.chars().count() > 40 {
                return Some(bad_param(
                    &param,
                    "Invalid metadata: keys can be up to 40 characters long.",
                ));
            }
            let long = value.as_str().is_some_and(|v| v.chars().count() > 500);
            long.then(|| {
                bad_param(
                    &param,
                    "Invalid metadata: values can be up to 500 characters long.",
                )
            })
        })
    }
}
