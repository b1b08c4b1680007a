//! Stripe webhook signatures, checked on the raw body: `Stripe-Signature: t=…,v1=…[,v1=…]`,
//! HMAC-SHA256 of `"{t}.{body}"` under the endpoint secret, within a 300 s tolerance. Every
//! `v1` is tried against every configured secret, so a secret can be rolled without downtime.

use crate::crypto::{constant_time_eq, hmac_sha256_hex};

/// How far a signature's timestamp may be from now.
pub const TOLERANCE_SECONDS: i64 = 300;

/// Why a delivery was refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// No or unreadable header.
    #[error("missing or malformed Stripe-Signature header")]
    Malformed,
    /// Signed too long ago (or in the future).
    #[error("the signature timestamp is outside the tolerance")]
    Stale,
    /// No signature matches any secret.
    #[error("no signature matches")]
    Mismatch,
}

/// Verifies `header` for `payload` against any of `secrets`, at time `now` (unix seconds).
pub fn verify(
    payload: &[u8],
    header: Option<&str>,
    secrets: &[String],
    now: i64,
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Malformed)?;
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        let Some((key, value)) = part.trim().split_once('=') else {
            continue;
        };
        match key {
            "t" => timestamp = value.parse::<i64>().ok(),
            "v1" => signatures.push(value.to_ascii_lowercase()),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed);
    }
    if (now - timestamp).abs() > TOLERANCE_SECONDS {
        return Err(SignatureError::Stale);
    }
    let mut signed = format!("{timestamp}.").into_bytes();
    signed.extend_from_slice(payload);
    let matched = secrets.iter().any(|secret| {
        let expected = hmac_sha256_hex(secret.as_bytes(), &signed);
        signatures.iter().any(|s| constant_time_eq(s, &expected))
    });
    if matched {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(secret: &str, t: i64, body: &str) -> String {
        format!(
            "t={t},v1={}",
            hmac_sha256_hex(secret.as_bytes(), format!("{t}.{body}").as_bytes())
        )
    }

    #[test]
    fn a_valid_signature_passes_and_any_change_fails() {
        let body = r#"{"id":"evt_1"}"#;
        let secrets = vec!["whsec_a".to_owned()];
        let h = header("whsec_a", 1000, body);
        assert_eq!(verify(body.as_bytes(), Some(&h), &secrets, 1000), Ok(()));
        assert_eq!(
            verify(br#"{"id":"evt_2"}"#, Some(&h), &secrets, 1000),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(br#"{ "id":"evt_1"}"#, Some(&h), &secrets, 1000),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(body.as_bytes(), Some(&h), &["whsec_b".to_owned()], 1000),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(body.as_bytes(), None, &secrets, 1000),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify(body.as_bytes(), Some("v1=abc"), &secrets, 1000),
            Err(SignatureError::Malformed)
        );
    }

    #[test]
    fn the_tolerance_is_300_seconds_either_way() {
        let body = "{}";
        let secrets = vec!["whsec_a".to_owned()];
        let h = header("whsec_a", 1000, body);
        assert_eq!(verify(body.as_bytes(), Some(&h), &secrets, 1299), Ok(()));
        assert_eq!(verify(body.as_bytes(), Some(&h), &secrets, 1300), Ok(()));
        assert_eq!(
            verify(body.as_bytes(), Some(&h), &secrets, 1301),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify(body.as_bytes(), Some(&h), &secrets, 699),
            Err(SignatureError::Stale)
        );
    }

    #[test]
    fn during_a_secret_roll_either_signature_in_either_order_passes() {
        let body = "{}";
        let old = header("whsec_old", 1000, body);
        let new = header("whsec_new", 1000, body);
        let new_sig = new.split_once(",v1=").map(|(_, s)| s).unwrap_or_default();
        let both = format!("{old},v1={new_sig}");
        let old_sig = old.split_once(",v1=").map(|(_, s)| s).unwrap_or_default();
        let reversed = format!("t=1000,v1={new_sig},v1={old_sig}");
        for secrets in [vec!["whsec_old".to_owned()], vec!["whsec_new".to_owned()]] {
            assert_eq!(verify(body.as_bytes(), Some(&both), &secrets, 1000), Ok(()));
            assert_eq!(
                verify(body.as_bytes(), Some(&reversed), &secrets, 1000),
                Ok(())
            );
        }
    }
}
