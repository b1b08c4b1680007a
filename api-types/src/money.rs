//! Money as operators type it ("5", "5.00", "1234.5") and as the API stores it (minor units
//! plus a lower-case ISO currency). Pure functions, so they are tested on the host.

/// Currencies whose minor unit is the major unit (Stripe's zero-decimal list).
const ZERO_DECIMAL: &[&str] = &[
    "bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv",
    "xaf", "xof", "xpf",
];

/// Currencies with three decimals.
const THREE_DECIMAL: &[&str] = &["bhd", "jod", "kwd", "omr", "tnd"];

/// The currencies the plan editor offers first.
pub const COMMON_CURRENCIES: &[&str] = &["usd", "eur", "gbp", "cad", "aud", "chf", "jpy"];

/// How many decimals a currency's minor unit has.
pub fn decimals(currency: &str) -> u32 {
    let currency = currency.to_ascii_lowercase();
    if ZERO_DECIMAL.contains(&currency.as_str()) {
        0
    } else if THREE_DECIMAL.contains(&currency.as_str()) {
        3
    } else {
        2
    }
}

/// A currency code: three letters (answered lower-case).
pub fn currency(raw: &str) -> Result<String, String> {
    let code = raw.trim().to_ascii_lowercase();
    if code.len() == 3 && code.bytes().all(|b| b.is_ascii_lowercase()) {
        Ok(code)
    } else {
        Err("the currency is a three-letter code like usd".into())
    }
}

/// The most a price may be, in minor units (Stripe's limit for most currencies).
pub const MAX_AMOUNT: i64 = 99_999_999;

/// How the amount field reads what is typed; the dashboard shows it next to the field.
pub const AMOUNT_RULE: &str = "Use a point for decimals (1.50); commas are refused.";

/// Parses a decimal amount ("5", "5.0", "5.00", "1000.50") into minor units of `currency`.
/// Zero is allowed (a free plan that still needs a purchase); negatives, too many decimals and
/// anything above [`MAX_AMOUNT`] are not.
///
/// A comma is refused rather than guessed: "1,50" is €1.50 to half the world and 150 to the
/// other half, and reading it either way silently is how `1,50` once became $150.00.
pub fn parse_amount(raw: &str, currency: &str) -> Result<i64, String> {
    let places = decimals(currency);
    if raw.contains(',') {
        return Err(
            "use a point for decimals (1.50) and no thousands separators; commas are refused"
                .into(),
        );
    }
    let cleaned: String = raw
        .trim()
        .chars()
        .filter(|c| *c != '_' && !c.is_whitespace())
        .collect();
    if cleaned.is_empty() {
        return Err("enter an amount like 5.00".into());
    }
    let (whole, fraction) = match cleaned.split_once('.') {
        Some((w, f)) => (w, f),
        None => (cleaned.as_str(), ""),
    };
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || !digits(fraction) || (whole.is_empty() && fraction.is_empty()) {
        return Err("enter an amount like 5.00 (digits and one decimal point)".into());
    }
    if fraction.len() > places as usize {
        return Err(match places {
            0 => format!("{} has no decimals", currency.to_ascii_uppercase()),
            n => format!("use at most {n} decimals"),
        });
    }
    let too_big = || {
        format!(
            "the amount must be at most {}",
            format_minor(MAX_AMOUNT, currency)
        )
    };
    let whole: i64 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| too_big())?
    };
    let mut fraction_value: i64 = if fraction.is_empty() {
        0
    } else {
        fraction.parse().map_err(|_| too_big())?
    };
    for _ in fraction.len()..places as usize {
        fraction_value *= 10;
    }
    let amount = whole
        .checked_mul(10_i64.pow(places))
        .and_then(|w| w.checked_add(fraction_value))
        .ok_or_else(too_big)?;
    if amount > MAX_AMOUNT {
        return Err(too_big());
    }
    Ok(amount)
}

/// Minor units as the decimal an operator would type ("5.00" for 500 usd).
pub fn format_minor(amount: i64, currency: &str) -> String {
    let places = decimals(currency);
    let sign = if amount < 0 { "-" } else { "" };
    let amount = amount.unsigned_abs();
    if places == 0 {
        return format!("{sign}{amount}");
    }
    let unit = 10_u64.pow(places);
    format!(
        "{sign}{}.{:0width$}",
        amount / unit,
        amount % unit,
        width = places as usize
    )
}

/// A short display of an amount: "$5.00", "€5.00", "£5.00", "¥500", else "5.00 CHF" — with
/// the currency's own minor unit ("1.000 KWD" for 1000 kwd). This is how both the dashboard
/// and the server's pages and tool answers print a price.
pub fn display(amount: i64, currency: &str) -> String {
    let number = format_minor(amount, currency);
    match currency.to_ascii_lowercase().as_str() {
        "usd" => format!("${number}"),
        "eur" => format!("€{number}"),
        "gbp" => format!("£{number}"),
        "jpy" => format!("¥{number}"),
        other => format!("{number} {}", other.to_ascii_uppercase()),
    }
}

/// An optional whole number field: empty is `None`, otherwise an integer in `min..=max`.
pub fn optional_count(raw: &str, what: &str, min: i64, max: i64) -> Result<Option<i64>, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    match raw.replace([',', '_'], "").parse::<i64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(Some(n)),
        _ => Err(format!(
            "the {what} must be a whole number from {min} to {max}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_displayed_in_each_currencys_minor_unit() {
        assert_eq!(display(500, "usd"), "$5.00");
        assert_eq!(display(1999, "EUR"), "€19.99");
        assert_eq!(display(500, "jpy"), "¥500");
        assert_eq!(display(1005, "chf"), "10.05 CHF");
        assert_eq!(display(1000, "kwd"), "1.000 KWD");
    }

    #[test]
    fn amounts_become_minor_units() {
        assert_eq!(parse_amount("5", "usd"), Ok(500));
        assert_eq!(parse_amount("5.0", "usd"), Ok(500));
        assert_eq!(parse_amount("5.00", "usd"), Ok(500));
        assert_eq!(parse_amount(" 0.5 ", "eur"), Ok(50));
        assert_eq!(parse_amount(".99", "usd"), Ok(99));
        assert_eq!(parse_amount("1234.56", "usd"), Ok(123_456));
        assert_eq!(parse_amount("0", "usd"), Ok(0));
        assert_eq!(parse_amount("500", "jpy"), Ok(500));
        assert_eq!(parse_amount("1.234", "kwd"), Ok(1234));
    }

    #[test]
    fn bad_amounts_say_why() {
        for bad in ["", "abc", "-5", "5.001", "1.2.3", ".", "5e3", "$5"] {
            assert!(parse_amount(bad, "usd").is_err(), "{bad}");
        }
        assert!(parse_amount("5.5", "jpy").is_err());
        // A decimal comma is refused, never read as a thousands separator.
        for comma in ["1,50", "9,99", "1,234.56", "1,000"] {
            let refused = parse_amount(comma, "usd").expect_err(comma);
            assert!(refused.contains("comma"), "{comma}: {refused}");
        }
        assert!(parse_amount("1000000", "usd").is_err());
        assert!(parse_amount("99999999999999999999", "usd").is_err());
        assert_eq!(parse_amount("999999.99", "usd"), Ok(MAX_AMOUNT));
    }

    #[test]
    fn minor_units_format_back() {
        assert_eq!(format_minor(500, "usd"), "5.00");
        assert_eq!(format_minor(5, "usd"), "0.05");
        assert_eq!(format_minor(500, "jpy"), "500");
        assert_eq!(format_minor(1234, "kwd"), "1.234");
        assert_eq!(format_minor(-150, "eur"), "-1.50");
        assert_eq!(display(1500, "usd"), "$15.00");
        assert_eq!(display(1500, "chf"), "15.00 CHF");
        assert_eq!(display(1999, "EUR"), "€19.99");
        assert_eq!(display(500, "jpy"), "¥500");
        assert_eq!(display(1005, "chf"), "10.05 CHF");
        // Three-decimal currencies print their own minor unit, not hundredths.
        assert_eq!(display(1000, "kwd"), "1.000 KWD");
        assert_eq!(display(-150, "usd"), "$-1.50");
        for amount in [0, 1, 99, 100, 12_345] {
            assert_eq!(
                parse_amount(&format_minor(amount, "usd"), "usd"),
                Ok(amount)
            );
        }
    }

    #[test]
    fn currencies_and_counts() {
        assert_eq!(currency("USD"), Ok("usd".into()));
        assert!(currency("us").is_err());
        assert!(currency("us1").is_err());
        assert_eq!(optional_count("", "calls", 1, 10), Ok(None));
        assert_eq!(optional_count("1,000", "calls", 1, 5000), Ok(Some(1000)));
        assert!(optional_count("0", "calls", 1, 10).is_err());
        assert!(optional_count("2.5", "calls", 1, 10).is_err());
    }
}
