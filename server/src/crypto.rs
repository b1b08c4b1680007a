//! Secrets: random tokens, their hashes, constant-time comparison, PKCE, and authenticated
//! encryption of secrets at rest under the master key.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use std::fmt;
use std::path::Path;

/// A secret value: never printed by `Debug`, never serialized by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretString(String);

impl SecretString {
    /// Wraps a secret.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself; call only where it must leave the process (a response, a header).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretString(***)")
    }
}

/// What can go wrong with keys and sealed secrets.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    /// The master key is not 32 bytes of base64.
    #[error("TOLLGATE_MASTER_KEY: expected 32 bytes, base64-encoded ({0})")]
    BadMasterKey(String),
    /// The key file could not be read or written.
    #[error("cannot read or create the master key file {path}: {source}")]
    KeyFile {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// A sealed value is malformed, was sealed under another key or for another purpose, or
    /// was tampered with.
    #[error("a sealed secret could not be opened")]
    Unseal,
    /// The system random source failed.
    #[error("the system random source failed")]
    Random,
}

fn random_bytes<const N: usize>() -> Result<[u8; N], CryptoError> {
    let mut bytes = [0u8; N];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| CryptoError::Random)?;
    Ok(bytes)
}

/// A new random token: `prefix` then 256 bits, base64url. Prefixes (`tga_`, `tgr_`, …) let
/// secret scanners and people tell token kinds apart.
pub fn random_token(prefix: &str) -> Result<SecretString, CryptoError> {
    let bytes = random_bytes::<32>()?;
    Ok(SecretString(format!(
        "{prefix}{}",
        URL_SAFE_NO_PAD.encode(bytes)
    )))
}

/// A short random identifier for non-secret ids shown in URLs.
pub fn random_id(prefix: &str) -> Result<String, CryptoError> {
    let bytes = random_bytes::<16>()?;
    Ok(format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes)))
}

/// The SHA-256 of a token, hex-encoded: what the database keeps instead of the token.
pub fn hash_token(token: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, token.as_bytes());
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// HMAC-SHA256 of `message` under `key`, hex-encoded (Stripe's webhook signature scheme).
pub fn hmac_sha256_hex(key: &[u8], message: &[u8]) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
    ring::hmac::sign(&key, message)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Compares two strings in time that depends only on their lengths.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The PKCE S256 challenge of a verifier (RFC 7636): base64url(SHA-256(verifier)).
pub fn pkce_s256(verifier: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes());
    URL_SAFE_NO_PAD.encode(digest.as_ref())
}

/// The key that seals secrets at rest (Stripe keys, GitHub client secrets, upstream verifiers).
pub struct MasterKey {
    key: LessSafeKey,
    mac_seed: ring::hmac::Key,
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(***)")
    }
}

const SEALED_VERSION: &str = "v1";

impl MasterKey {
    /// From 32 raw bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CryptoError> {
        let unbound = UnboundKey::new(&AES_256_GCM, bytes)
            .map_err(|_| CryptoError::BadMasterKey(format!("{} bytes given", bytes.len())))?;
        Ok(Self {
            key: LessSafeKey::new(unbound),
            mac_seed: ring::hmac::Key::new(ring::hmac::HMAC_SHA256, bytes),
        })
    }

    /// From `TOLLGATE_MASTER_KEY` when given; otherwise from `<data_dir>/master.key`, which is
    /// created (mode 0600) with a fresh random key on first start.
    pub fn load_or_create(configured: Option<&str>, data_dir: &Path) -> Result<Self, CryptoError> {
        if let Some(encoded) = configured {
            let bytes = STANDARD
                .decode(encoded.trim())
                .map_err(|e| CryptoError::BadMasterKey(e.to_string()))?;
            return Self::from_bytes(&bytes);
        }
        let path = data_dir.join("master.key");
        let key_file = |source| CryptoError::KeyFile {
            path: path.display().to_string(),
            source,
        };
        match std::fs::read_to_string(&path) {
            Ok(encoded) => {
                let bytes = STANDARD
                    .decode(encoded.trim())
                    .map_err(|e| CryptoError::BadMasterKey(e.to_string()))?;
                Self::from_bytes(&bytes)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir_all(data_dir).map_err(key_file)?;
                let bytes = random_bytes::<32>()?;
                write_private(&path, &STANDARD.encode(bytes)).map_err(key_file)?;
                Self::from_bytes(&bytes)
            }
            Err(e) => Err(key_file(e)),
        }
    }

    /// A MAC of `message` for `purpose` (signed links), under a key derived from the master key.
    pub fn mac(&self, purpose: &str, message: &str) -> String {
        let derived =
            ring::hmac::sign(&self.mac_seed, format!("tollgate-mac:{purpose}").as_bytes());
        hmac_sha256_hex(derived.as_ref(), message.as_bytes())
    }

    /// Seals `plaintext`, bound to `context` (e.g. `tenant:<id>:stripe_secret_key`): a sealed
    /// value moved to another row or purpose does not open.
    pub fn seal(&self, plaintext: &str, context: &str) -> Result<String, CryptoError> {
        let nonce_bytes = random_bytes::<NONCE_LEN>()?;
        let mut buffer = plaintext.as_bytes().to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce_bytes),
                Aad::from(context.as_bytes()),
                &mut buffer,
            )
            .map_err(|_| CryptoError::Unseal)?;
        Ok(format!(
            "{SEALED_VERSION}.{}.{}",
            URL_SAFE_NO_PAD.encode(nonce_bytes),
            URL_SAFE_NO_PAD.encode(buffer)
        ))
    }

    /// Opens a value sealed by [`Self::seal`] with the same context.
    pub fn open(&self, sealed: &str, context: &str) -> Result<SecretString, CryptoError> {
        let mut parts = sealed.split('.');
        let (Some(SEALED_VERSION), Some(nonce), Some(body), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(CryptoError::Unseal);
        };
        let nonce: [u8; NONCE_LEN] = URL_SAFE_NO_PAD
            .decode(nonce)
            .ok()
            .and_then(|n| n.try_into().ok())
            .ok_or(CryptoError::Unseal)?;
        let mut buffer = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| CryptoError::Unseal)?;
        let plain = self
            .key
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(context.as_bytes()),
                &mut buffer,
            )
            .map_err(|_| CryptoError::Unseal)?;
        String::from_utf8(plain.to_vec())
            .map(SecretString)
            .map_err(|_| CryptoError::Unseal)
    }
}

#[cfg(unix)]
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(contents.as_bytes())
}

#[cfg(not(unix))]
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    std::fs::write(path, contents)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> MasterKey {
        MasterKey::from_bytes(&[7u8; 32]).expect("32 bytes")
    }

    #[test]
    fn sealed_secrets_open_only_in_their_context() {
        let key = key();
        let sealed = key.seal("sk_test_123", "tenant:a:stripe").expect("sealed");
        assert!(!sealed.contains("sk_test_123"));
        assert_eq!(
            key.open(&sealed, "tenant:a:stripe")
                .expect("opens")
                .expose(),
            "sk_test_123"
        );
        assert!(key.open(&sealed, "tenant:b:stripe").is_err());
        let other = MasterKey::from_bytes(&[8u8; 32]).expect("32 bytes");
        assert!(other.open(&sealed, "tenant:a:stripe").is_err());
        let mut tampered = sealed.into_bytes();
        let last = tampered.len() - 1;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).expect("ascii");
        assert!(key.open(&tampered, "tenant:a:stripe").is_err());
    }

    #[test]
    fn sealing_twice_never_repeats_a_nonce() {
        let key = key();
        let a = key.seal("x", "c").expect("sealed");
        let b = key.seal("x", "c").expect("sealed");
        assert_ne!(a, b);
    }

    #[test]
    fn pkce_challenge_is_unpadded_base64url_sha256() {
        // Computed independently with Python's hashlib and base64.
        assert_eq!(
            pkce_s256("dBjftJeZ4CVP-mB92K9uhbUxPgtN2WqTgWvxEfc6ptE"),
            "D95VcmFgXZaUBZRn20zOv0jDMjIPA6MQ578sqmStotc"
        );
    }

    #[test]
    fn hmac_matches_an_independent_implementation() {
        // Computed with Python: hmac.new(b"whsec_test", b"1700000000.{}", hashlib.sha256).hexdigest()
        assert_eq!(
            hmac_sha256_hex(b"whsec_test", b"1700000000.{}"),
            "35495024f4ef3f94e5a93e22221544c4b75e9a42300cd965ab81cb85cd994e91"
        );
    }

    #[test]
    fn tokens_are_prefixed_random_and_hash_to_hex() {
        let a = random_token("tga_").expect("random");
        let b = random_token("tga_").expect("random");
        assert!(a.expose().starts_with("tga_"));
        assert_ne!(a, b);
        assert_eq!(hash_token("abc").len(), 64);
        assert!(format!("{a:?}").contains("***"));
        assert!(constant_time_eq("abc", "abc") && !constant_time_eq("abc", "abd"));
    }
}
