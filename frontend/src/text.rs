//! Small text helpers the dashboard uses as you type: slug suggestions, sandbox price ids, time
//! display, key checks. Pure functions, tested on the host.

/// The longest slug the dashboard suggests.
pub const SUGGESTED_SLUG_MAX: usize = 40;

/// A slug suggested from a tenant name: lower-case ASCII letters and digits, words joined by
/// `-`, starting with a letter, at most [`SUGGESTED_SLUG_MAX`] characters. Common accented
/// Latin letters lose their accent. Empty when the name has nothing usable.
pub fn suggest_slug(name: &str) -> String {
    let mut slug = String::new();
    let mut pending_hyphen = false;
    for c in name.chars().flat_map(fold_accent) {
        if c.is_ascii_alphanumeric() {
            if slug.is_empty() && c.is_ascii_digit() {
                slug.push('t');
                pending_hyphen = true;
            }
            if pending_hyphen && !slug.is_empty() {
                slug.push('-');
            }
            pending_hyphen = false;
            slug.push(c.to_ascii_lowercase());
        } else {
            pending_hyphen = true;
        }
        if slug.len() >= SUGGESTED_SLUG_MAX {
            break;
        }
    }
    slug.truncate(SUGGESTED_SLUG_MAX);
    slug.trim_end_matches('-').to_string()
}

/// A sandbox price id for a plan name: `price_sandbox_pro_plan`.
pub fn sandbox_price_id(plan_name: &str) -> String {
    let words = suggest_slug(plan_name).replace('-', "_");
    if words.is_empty() {
        "price_sandbox_plan".into()
    } else {
        format!("price_sandbox_{words}")
    }
}

fn fold_accent(c: char) -> impl Iterator<Item = char> {
    let folded: &str = match c {
        'à' | 'á' | 'â' | 'ã' | 'å' | 'À' | 'Á' | 'Â' | 'Ã' | 'Å' => "a",
        'ä' | 'Ä' | 'æ' | 'Æ' => "ae",
        'ç' | 'Ç' => "c",
        'è' | 'é' | 'ê' | 'ë' | 'È' | 'É' | 'Ê' | 'Ë' => "e",
        'ì' | 'í' | 'î' | 'ï' | 'Ì' | 'Í' | 'Î' | 'Ï' => "i",
        'ñ' | 'Ñ' => "n",
        'ò' | 'ó' | 'ô' | 'õ' | 'ø' | 'Ò' | 'Ó' | 'Ô' | 'Õ' | 'Ø' => "o",
        'ö' | 'Ö' | 'œ' | 'Œ' => "oe",
        'ù' | 'ú' | 'û' | 'Ù' | 'Ú' | 'Û' => "u",
        'ü' | 'Ü' => "ue",
        'ß' => "ss",
        'ý' | 'ÿ' | 'Ý' => "y",
        '&' => " and ",
        _ => "",
    };
    let single = folded.is_empty().then_some(c);
    folded.chars().chain(single)
}

/// An RFC 3339 time as a short UTC string: `2026-11-27 10:04`. Anything else comes back as is.
pub fn short_time(rfc3339: &str) -> String {
    let b = rfc3339.as_bytes();
    let looks_right = b.len() >= 16
        && b[4] == b'-'
        && b[7] == b'-'
        && (b[10] == b'T' || b[10] == b' ')
        && b[13] == b':';
    if looks_right {
        format!("{} {}", &rfc3339[..10], &rfc3339[11..16])
    } else {
        rfc3339.to_string()
    }
}

/// Whether a Stripe secret key looks right: `sk_test_…`, `sk_live_…`, `rk_test_…`, `rk_live_…`.
pub fn stripe_secret_key(raw: &str) -> Result<(), String> {
    let raw = raw.trim();
    let known = ["sk_test_", "sk_live_", "rk_test_", "rk_live_"]
        .iter()
        .find(|prefix| raw.starts_with(**prefix));
    match known {
        None => Err("a secret key starts with sk_test_, sk_live_, rk_test_ or rk_live_".into()),
        Some(prefix) if raw.len() < prefix.len() + 10 => Err("this key looks too short".into()),
        Some(_) if !raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') => {
            Err("a key has only letters, digits and _".into())
        }
        Some(_) => Ok(()),
    }
}

/// Whether a Stripe webhook signing secret looks right: `whsec_…`.
pub fn stripe_webhook_secret(raw: &str) -> Result<(), String> {
    let raw = raw.trim();
    if !raw.starts_with("whsec_") {
        Err("the signing secret starts with whsec_".into())
    } else if raw.len() < 16 {
        Err("this secret looks too short".into())
    } else if !raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        Err("a secret has only letters, digits and _".into())
    } else {
        Ok(())
    }
}

/// Whether a Stripe price id looks right (`price_…`).
pub fn price_id(raw: &str) -> Result<(), String> {
    let raw = raw.trim();
    let ok = raw.len() > "price_".len()
        && raw.len() <= 255
        && raw.starts_with("price_")
        && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err("a price id looks like price_1Pq… (letters, digits and _)".into())
    }
}

/// An absolute http(s) URL, for the success page of a plan.
pub fn http_url(raw: &str) -> Result<(), String> {
    let raw = raw.trim();
    let rest = raw
        .strip_prefix("https://")
        .or_else(|| raw.strip_prefix("http://"));
    match rest {
        Some(rest) if !rest.is_empty() && !raw.chars().any(char::is_whitespace) => Ok(()),
        _ => Err("enter a full address starting with https://".into()),
    }
}

/// Whether an MCP client config is shown as code in this language (for the label).
pub fn format_label(format: &str) -> &'static str {
    match format {
        "json" => "JSON",
        "shell" => "Shell",
        _ => "Text",
    }
}

/// The tenant slug in a dashboard path `/admin/t/{slug}/…`, if any.
pub fn slug_in_path(path: &str) -> Option<String> {
    let rest = path.strip_prefix("/admin/t/")?;
    let slug = rest.split('/').next()?;
    (!slug.is_empty()).then(|| slug.to_string())
}

/// Whether `next` (the page to return to after signing in) is a page of the dashboard itself:
/// a path under `/admin`, never another site (`//host`, a scheme, a backslash) and never a
/// signed-out page, so a crafted sign-in link cannot send an operator elsewhere.
pub fn safe_next(next: &str) -> bool {
    let under_admin =
        next == "/admin" || next.starts_with("/admin/") || next.starts_with("/admin?");
    let signed_out_page = ["/admin/sign-in", "/admin/setup", "/admin/invite"]
        .iter()
        .any(|p| next.starts_with(p));
    under_admin
        && !signed_out_page
        && !next.contains("//")
        && !next.contains('\\')
        && !next.chars().any(char::is_control)
}

/// The browser tab's title of a dashboard page: "Tools · Acme Tools · Tollgate".
pub fn page_title(page: &str, tenant: Option<&str>) -> String {
    match tenant {
        Some(tenant) if !tenant.is_empty() && tenant != page => {
            format!("{page} · {tenant} · Tollgate")
        }
        _ => format!("{page} · Tollgate"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate;

    #[test]
    fn only_dashboard_pages_are_returned_to() {
        for ok in [
            "/admin",
            "/admin/t/acme/tools",
            "/admin/t/acme/analytics?days=7",
        ] {
            assert!(safe_next(ok), "{ok}");
        }
        for bad in [
            "",
            "https://evil.example/admin",
            "//evil.example/admin",
            "/admin//evil.example",
            "/admin/\\evil.example",
            "/administrator",
            "/admin/sign-in",
            "/admin/setup?token=x",
            "/api/v1/session",
        ] {
            assert!(!safe_next(bad), "{bad}");
        }
        assert_eq!(page_title("Tools", Some("Acme")), "Tools · Acme · Tollgate");
        assert_eq!(page_title("Tenants", None), "Tenants · Tollgate");
    }

    #[test]
    fn slugs_are_suggested_from_names() {
        assert_eq!(suggest_slug("Acme"), "acme");
        assert_eq!(suggest_slug("  Acme Tools, Inc. "), "acme-tools-inc");
        assert_eq!(suggest_slug("Café Müller"), "cafe-mueller");
        assert_eq!(suggest_slug("Tom & Jerry"), "tom-and-jerry");
        assert_eq!(suggest_slug("42 Labs"), "t-42-labs");
        assert_eq!(suggest_slug("!!!"), "");
        assert_eq!(suggest_slug("日本"), "");
        let long = suggest_slug(&"word ".repeat(30));
        assert!(long.len() <= SUGGESTED_SLUG_MAX, "{long}");
        assert!(!long.ends_with('-'));
        for name in [
            "Acme",
            "Café Müller",
            "42 Labs",
            "a b c d e f",
            &"x".repeat(100),
        ] {
            let slug = suggest_slug(name);
            assert!(validate::slug(&slug).is_ok(), "{name} -> {slug}");
        }
    }

    #[test]
    fn sandbox_price_ids() {
        assert_eq!(sandbox_price_id("Pro plan"), "price_sandbox_pro_plan");
        assert_eq!(sandbox_price_id(""), "price_sandbox_plan");
        assert!(price_id(&sandbox_price_id("Pro plan")).is_ok());
        assert!(price_id("price_").is_err());
        assert!(price_id("prod_123").is_err());
    }

    #[test]
    fn times_and_keys() {
        assert_eq!(short_time("2026-11-27T10:04:05Z"), "2026-11-27 10:04");
        assert_eq!(short_time("soon"), "soon");
        assert!(stripe_secret_key("sk_test_51AbCdEfGhIjKl").is_ok());
        assert!(stripe_secret_key("rk_live_51AbCdEfGhIjKl").is_ok());
        assert!(stripe_secret_key("pk_test_51AbCdEfGhIjKl").is_err());
        assert!(stripe_secret_key("sk_test_1").is_err());
        assert!(stripe_webhook_secret("whsec_abcdefghijkl").is_ok());
        assert!(stripe_webhook_secret("whsec_").is_err());
        assert!(http_url("https://example.com/thanks").is_ok());
        assert!(http_url("example.com").is_err());
    }

    #[test]
    fn slug_from_path() {
        assert_eq!(slug_in_path("/admin/t/acme/tools"), Some("acme".into()));
        assert_eq!(slug_in_path("/admin/t/acme"), Some("acme".into()));
        assert_eq!(slug_in_path("/admin/tokens"), None);
        assert_eq!(slug_in_path("/admin"), None);
    }
}
