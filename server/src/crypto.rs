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
    /// The previous master key is not 32 bytes of base64.
    #[error("TOLLGATE_MASTER_KEY_PREVIOUS: expected 32 bytes, base64-encoded ({0})")]
    BadPreviousKey(String),
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

/// The prefix of each kind of token Tollgate issues (documented in `docs/security.md`). Each
/// kind has its own, and none is the start of another, so secret scanners, people and the
/// wrong-endpoint checks tell them apart: the admin API refuses anything but [`ADMIN_API`],
/// and an admin token presented at an MCP endpoint is never an MCP token.
pub mod prefix {
    /// An MCP access token (bearer at a tenant's MCP endpoint).
    pub const MCP_ACCESS: &str = "tgmcp_";
    /// An MCP refresh token (at a tenant's token endpoint).
    pub const MCP_REFRESH: &str = "tgref_";
    /// A personal admin API token.
    pub const ADMIN_API: &str = "tga_";
    /// An operator's dashboard session (the cookie's value).
    pub const ADMIN_SESSION: &str = "tgses_";
    /// A confidential MCP client's secret.
    pub const CLIENT_SECRET: &str = "tgcsec_";
    /// An authorization code.
    pub const CODE: &str = "tgcode_";
    /// An invitation to a tenant.
    pub const INVITATION: &str = "tgi_";
}

/// A new random token: `prefix` then 256 bits, base64url (see [`prefix`]).
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
    hex(digest.as_ref())
}

/// Lower-case hex of `bytes`, in one allocation (it runs on every MCP request: the session
/// id's and the bearer token's hashes).
fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
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

/// One 32-byte key and its public id.
struct KeyMaterial {
    /// 16 hex digits of a MAC under the key: names the key in sealed values and in the
    /// database's fingerprint row, without revealing anything about it.
    id: String,
    key: LessSafeKey,
    mac_seed: ring::hmac::Key,
}

impl KeyMaterial {
    fn from_bytes(bytes: &[u8]) -> Result<Self, CryptoError> {
        let unbound = UnboundKey::new(&AES_256_GCM, bytes)
            .map_err(|_| CryptoError::BadMasterKey(format!("{} bytes given", bytes.len())))?;
        let mac_seed = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, bytes);
        let tag = ring::hmac::sign(&mac_seed, b"tollgate-key-id");
        let id = tag.as_ref()[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Ok(Self {
            id,
            key: LessSafeKey::new(unbound),
            mac_seed,
        })
    }

    fn from_base64(encoded: &str) -> Result<Self, CryptoError> {
        let bytes = STANDARD
            .decode(encoded.trim())
            .map_err(|e| CryptoError::BadMasterKey(e.to_string()))?;
        Self::from_bytes(&bytes)
    }

    fn open(&self, nonce: &str, body: &str, aad: &str) -> Result<SecretString, CryptoError> {
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
                Aad::from(aad.as_bytes()),
                &mut buffer,
            )
            .map_err(|_| CryptoError::Unseal)?;
        String::from_utf8(plain.to_vec())
            .map(SecretString)
            .map_err(|_| CryptoError::Unseal)
    }
}

/// The key that seals secrets at rest (Stripe keys, GitHub client secrets, upstream verifiers),
/// and, while a rotation is under way, the previous key, which still opens what it sealed.
///
/// Sealed format `v2.<key id>.<nonce>.<ciphertext>`, the key id also in the AAD
/// (`<key id>:<context>`), so a value names the key that opens it and cannot be relabelled.
/// Values sealed before key ids existed (`v1.<nonce>.<ciphertext>`, AAD = context) still open.
pub struct MasterKey {
    current: KeyMaterial,
    previous: Option<KeyMaterial>,
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MasterKey({}, ***)", self.current.id)
    }
}

const SEALED_V1: &str = "v1";
const SEALED_V2: &str = "v2";

impl MasterKey {
    /// From 32 raw bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CryptoError> {
        Ok(Self {
            current: KeyMaterial::from_bytes(bytes)?,
            previous: None,
        })
    }

    /// Adds the previous key (`TOLLGATE_MASTER_KEY_PREVIOUS`, base64): it opens what it
    /// sealed; nothing new is sealed with it.
    pub fn with_previous(mut self, encoded: &str) -> Result<Self, CryptoError> {
        let previous = KeyMaterial::from_base64(encoded).map_err(|e| match e {
            CryptoError::BadMasterKey(why) => CryptoError::BadPreviousKey(why),
            other => other,
        })?;
        self.previous = Some(previous);
        Ok(self)
    }

    /// The current key's id (its fingerprint).
    pub fn id(&self) -> &str {
        &self.current.id
    }

    /// The previous key's id, during a rotation.
    pub fn previous_id(&self) -> Option<&str> {
        self.previous.as_ref().map(|k| k.id.as_str())
    }

    /// From `TOLLGATE_MASTER_KEY` when given; otherwise from `<data_dir>/master.key`, which is
    /// created (mode 0600) with a fresh random key on first start.
    pub fn load_or_create(configured: Option<&str>, data_dir: &Path) -> Result<Self, CryptoError> {
        if let Some(encoded) = configured {
            return Ok(Self {
                current: KeyMaterial::from_base64(encoded)?,
                previous: None,
            });
        }
        let path = data_dir.join("master.key");
        let key_file = |source| CryptoError::KeyFile {
            path: path.display().to_string(),
            source,
        };
        match std::fs::read_to_string(&path) {
            Ok(encoded) => Ok(Self {
                current: KeyMaterial::from_base64(&encoded)?,
                previous: None,
            }),
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
        let derived = ring::hmac::sign(
            &self.current.mac_seed,
            format!("tollgate-mac:{purpose}").as_bytes(),
        );
        hmac_sha256_hex(derived.as_ref(), message.as_bytes())
    }

    /// Seals `plaintext` under the current key, bound to `context` (e.g.
    /// `tenant:<id>:stripe_secret_key`) and to the key's id: a sealed value moved to another
    /// row or purpose does not open.
    pub fn seal(&self, plaintext: &str, context: &str) -> Result<String, CryptoError> {
        let nonce_bytes = random_bytes::<NONCE_LEN>()?;
        let mut buffer = plaintext.as_bytes().to_vec();
        let aad = format!("{}:{context}", self.current.id);
        self.current
            .key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce_bytes),
                Aad::from(aad.as_bytes()),
                &mut buffer,
            )
            .map_err(|_| CryptoError::Unseal)?;
        Ok(format!(
            "{SEALED_V2}.{}.{}.{}",
            self.current.id,
            URL_SAFE_NO_PAD.encode(nonce_bytes),
            URL_SAFE_NO_PAD.encode(buffer)
        ))
    }

    /// Opens a value sealed by [`Self::seal`] with the same context, under whichever key
    /// (current or previous) sealed it.
    pub fn open(&self, sealed: &str, context: &str) -> Result<SecretString, CryptoError> {
        let parts: Vec<&str> = sealed.split('.').collect();
        match parts.as_slice() {
            [SEALED_V2, id, nonce, body] => {
                let key = self.key_by_id(id).ok_or(CryptoError::Unseal)?;
                key.open(nonce, body, &format!("{id}:{context}"))
            }
            [SEALED_V1, nonce, body] => {
                self.current
                    .open(nonce, body, context)
                    .or_else(|e| match &self.previous {
                        Some(previous) => previous.open(nonce, body, context),
                        None => Err(e),
                    })
            }
            _ => Err(CryptoError::Unseal),
        }
    }

    /// Whether `sealed` is already sealed under the current key in the current format.
    pub fn is_current(&self, sealed: &str) -> bool {
        sealed.starts_with(&format!("{SEALED_V2}.{}.", self.current.id))
    }

    fn key_by_id(&self, id: &str) -> Option<&KeyMaterial> {
        if self.current.id == id {
            return Some(&self.current);
        }
        self.previous.as_ref().filter(|k| k.id == id)
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

    #[test]
    fn a_token_hash_is_the_lower_case_hex_sha256() {
        assert_eq!(
            hash_token("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

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
    fn sealed_values_name_their_key_and_open_under_it_during_a_rotation() {
        let old = MasterKey::from_bytes(&[7u8; 32]).expect("old");
        let sealed = old.seal("sk_test_123", "tenant:a:stripe").expect("sealed");
        assert!(sealed.starts_with(&format!("v2.{}.", old.id())));
        let new = MasterKey::from_bytes(&[8u8; 32]).expect("new");
        assert!(new.open(&sealed, "tenant:a:stripe").is_err());
        let rotating = MasterKey::from_bytes(&[8u8; 32])
            .expect("new")
            .with_previous(&STANDARD.encode([7u8; 32]))
            .expect("previous");
        assert_eq!(rotating.previous_id(), Some(old.id()));
        let opened = rotating.open(&sealed, "tenant:a:stripe").expect("opens");
        assert_eq!(opened.expose(), "sk_test_123");
        assert!(!rotating.is_current(&sealed));
        let resealed = rotating
            .seal(opened.expose(), "tenant:a:stripe")
            .expect("sealed");
        assert!(rotating.is_current(&resealed));
        assert_eq!(
            new.open(&resealed, "tenant:a:stripe")
                .expect("opens")
                .expose(),
            "sk_test_123"
        );
        // Relabelling a value with another key id does not open it.
        let relabelled = sealed.replacen(old.id(), new.id(), 1);
        assert!(rotating.open(&relabelled, "tenant:a:stripe").is_err());
    }

    #[test]
    fn values_sealed_before_key_ids_still_open() {
        // A v1 value, as the previous format wrote it: AAD = the context alone.
        let bytes = [7u8; 32];
        let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &bytes).expect("key"));
        let nonce = [3u8; NONCE_LEN];
        let mut buffer = b"whsec_old".to_vec();
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(b"tenant:a:hook".as_slice()),
            &mut buffer,
        )
        .expect("sealed");
        let v1 = format!(
            "v1.{}.{}",
            URL_SAFE_NO_PAD.encode(nonce),
            URL_SAFE_NO_PAD.encode(buffer)
        );
        let master = MasterKey::from_bytes(&bytes).expect("key");
        assert_eq!(
            master.open(&v1, "tenant:a:hook").expect("opens").expose(),
            "whsec_old"
        );
        assert!(master.open(&v1, "tenant:b:hook").is_err());
        let rotated = MasterKey::from_bytes(&[9u8; 32])
            .expect("new")
            .with_previous(&STANDARD.encode(bytes))
            .expect("previous");
        assert_eq!(
            rotated.open(&v1, "tenant:a:hook").expect("opens").expose(),
            "whsec_old"
        );
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
