//! The rules input must follow, shared by the server (which enforces them) and the dashboard
//! (which checks them as you type). Each function answers the message to show, or `Ok(())`.

/// Slugs that would collide with Tollgate's own URL space.
pub const RESERVED_SLUGS: &[&str] = &["admin", "api", "www", "static", "assets", "well-known"];

/// A tenant slug: 2-63 lower-case letters, digits and hyphens, starting with a letter, not
/// ending with a hyphen, not reserved.
pub fn slug(raw: &str) -> Result<(), String> {
    let ok_len = (2..=63).contains(&raw.len());
    let ok_chars = raw
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    let ok_ends = raw.starts_with(|c: char| c.is_ascii_lowercase()) && !raw.ends_with('-');
    if !(ok_len && ok_chars && ok_ends) {
        return Err(format!(
            "{raw:?} is not a valid tenant slug: use 2-63 lowercase letters, digits and \
             hyphens, starting with a letter"
        ));
    }
    if RESERVED_SLUGS.contains(&raw) {
        return Err(format!("{raw:?} is reserved"));
    }
    Ok(())
}

/// A tool name as MCP clients see it: 1-64 characters of `A-Z a-z 0-9 _ . -`.
pub fn tool_name(raw: &str) -> Result<(), String> {
    let ok = (1..=64).contains(&raw.len())
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{raw:?} is not a valid tool name: use 1-64 characters of A-Z, a-z, 0-9, '_', '.' \
             and '-'"
        ))
    }
}

/// How long a plan's `past_due` subscriptions keep access, when the plan does not say.
pub const DEFAULT_PAST_DUE_GRACE_DAYS: i32 = 3;

/// The longest past-due grace a plan may give (Stripe's own retries end within weeks).
pub const MAX_PAST_DUE_GRACE_DAYS: i32 = 30;

/// A plan's past-due grace: whole days, 0 (access ends when a payment fails) to 30.
pub fn past_due_grace_days(days: i64) -> Result<(), String> {
    if (0..=i64::from(MAX_PAST_DUE_GRACE_DAYS)).contains(&days) {
        Ok(())
    } else {
        Err(format!(
            "the past-due grace must be 0-{MAX_PAST_DUE_GRACE_DAYS} days (got {days})"
        ))
    }
}

/// A display text (name, title, description): 1 to `max` characters once trimmed.
pub fn text(field: &str, raw: &str, max: usize) -> Result<(), String> {
    let value = raw.trim();
    if value.is_empty() || value.chars().count() > max {
        return Err(format!("the {field} must be 1-{max} characters"));
    }
    Ok(())
}

/// A GitHub app's client id (`Iv1.…`, `Iv23li…`, `Ov23li…` or 20 hex digits): 4 to 100
/// letters, digits, dots, dashes or underscores. A pasted label or a space is caught here
/// rather than at every end user's sign-in.
pub fn github_client_id(raw: &str) -> Result<(), String> {
    let value = raw.trim();
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_');
    if !(4..=100).contains(&value.len()) || !value.chars().all(allowed) {
        return Err(
            "a GitHub client id is 4-100 letters, digits, dots, dashes or underscores, \
             like Iv1.0123456789abcdef"
                .into(),
        );
    }
    Ok(())
}

/// A GitHub app's client secret: 8 to 200 visible ASCII characters, no spaces (GitHub's are
/// 40 hex digits).
pub fn github_client_secret(raw: &str) -> Result<(), String> {
    let value = raw.trim();
    if !(8..=200).contains(&value.len()) || !value.chars().all(|c| c.is_ascii_graphic()) {
        return Err(
            "a GitHub client secret is 8-200 characters without spaces (GitHub shows 40)".into(),
        );
    }
    Ok(())
}

/// An e-mail address: something before and after one `@`, at most 254 characters.
pub fn email(raw: &str) -> Result<(), String> {
    let raw = raw.trim();
    let valid = raw.len() <= 254
        && raw.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && !domain.is_empty() && !domain.contains('@') && domain.contains('.')
        })
        && !raw.chars().any(char::is_whitespace);
    if valid {
        Ok(())
    } else {
        Err("enter an e-mail address like ada@example.com".into())
    }
}

/// The shortest password accepted.
pub const MIN_PASSWORD: usize = 10;

/// A password: at least [`MIN_PASSWORD`] characters, at most 1024.
pub fn password(raw: &str) -> Result<(), String> {
    let n = raw.chars().count();
    if n < MIN_PASSWORD {
        return Err(format!("use at least {MIN_PASSWORD} characters"));
    }
    if n > 1024 {
        return Err("use at most 1024 characters".into());
    }
    Ok(())
}

/// A role name.
pub fn role(raw: &str) -> Result<(), String> {
    match raw {
        "owner" | "admin" | "viewer" => Ok(()),
        _ => Err("the role must be owner, admin or viewer".into()),
    }
}

/// Whether `c` is a bidirectional-formatting character (the embeddings, overrides and isolates,
/// the left-to-right and right-to-left marks, and the Arabic letter mark). Names shown to
/// people (a client's name on the consent page, in the dashboard) drop them, so that a name
/// cannot render reversed or hide part of itself.
pub fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_app_keys_look_like_githubs() {
        for ok in ["Iv1.0123456789abcdef", "Ov23liABCDEF12345678", "Iv1.abc"] {
            assert_eq!(github_client_id(ok), Ok(()), "{ok}");
        }
        for bad in ["", "bad id!", "abc", "Iv1.abc def", "Iv1/abc"] {
            assert!(github_client_id(bad).is_err(), "{bad}");
        }
        assert_eq!(
            github_client_secret("0123456789abcdef0123456789abcdef01234567"),
            Ok(())
        );
        for bad in ["", "short", "has a space in it"] {
            assert!(github_client_secret(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn slugs_are_lowercase_words_and_not_reserved() {
        for ok in [
            "ab",
            "acme",
            "acme-tools-2",
            &format!("a{}", "b".repeat(62)),
        ] {
            assert!(slug(ok).is_ok(), "{ok}");
        }
        for bad in [
            "a", "Acme", "2acme", "acme-", "ac me", "admin", "api", "ümlaut",
        ] {
            assert!(slug(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn tool_names_follow_the_mcp_character_set() {
        assert!(tool_name("wporg.query-themes_2").is_ok());
        assert!(tool_name("").is_err());
        assert!(tool_name("has space").is_err());
        assert!(tool_name(&"x".repeat(65)).is_err());
    }

    #[test]
    fn emails_and_passwords() {
        assert!(email("ada@example.com").is_ok());
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "a b@example.com",
            "ada@localhost",
        ] {
            assert!(email(bad).is_err(), "{bad}");
        }
        assert!(password("short").is_err());
        assert!(password("long enough!").is_ok());
    }

    #[test]
    fn bidi_controls_are_the_formatting_characters_only() {
        for c in [
            '\u{061C}', '\u{200E}', '\u{200F}', '\u{202A}', '\u{202E}', '\u{2066}', '\u{2069}',
        ] {
            assert!(is_bidi_control(c), "{c:?}");
        }
        for c in ['a', 'ü', '\u{0627}', '\u{200D}', '\u{2070}', ' '] {
            assert!(!is_bidi_control(c), "{c:?}");
        }
    }
}
