//! PKCE (RFC 7636) as the authorization server checks it: the shape of a `code_challenge` and
//! a `code_verifier`. The S256 transform itself is `crypto::pkce_s256`.

/// Whether `value` is a well-formed PKCE value: 43 to 128 characters of the unreserved set
/// `A-Z a-z 0-9 - . _ ~` (RFC 7636 §4.1 for the verifier; an S256 challenge is 43 of them).
pub(super) fn is_well_formed(value: &str) -> bool {
    (43..=128).contains(&value.len()) && value.bytes().all(is_unreserved)
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_43_to_128_unreserved_characters() {
        assert!(is_well_formed(&"a".repeat(43)));
        assert!(is_well_formed(&"A-._~9".repeat(20)));
        assert!(!is_well_formed(&"a".repeat(42)));
        assert!(!is_well_formed(&"a".repeat(129)));
        assert!(!is_well_formed(&format!("{}+", "a".repeat(42))));
        assert!(!is_well_formed(&format!("{}=", "a".repeat(43))));
    }
}
