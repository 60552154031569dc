//! Connector secrets sealed at rest: ChaCha20-Poly1305 with the operator's
//! key (`VIGIL_SECRET_KEY`, 32 bytes as 64 hex digits or base64) and a
//! random nonce per secret. The store keeps only `nonce ‖ ciphertext`; the
//! plaintext exists in memory while a run signs in, and is never returned
//! by the API, logged or audited.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};

/// The environment variable that holds the key.
pub const SECRET_KEY_ENV: &str = "VIGIL_SECRET_KEY";

const NONCE: usize = 12;

/// The key that seals connector secrets.
#[derive(Clone)]
pub struct SecretKey(Key);

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

/// Why a secret cannot be sealed or opened.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("{SECRET_KEY_ENV} must be 32 bytes written as 64 hex digits or as base64 (e.g. `openssl rand -hex 32`)")]
    BadKey,
    #[error("a stored secret cannot be opened with this {SECRET_KEY_ENV} (was the key changed?)")]
    Open,
    #[error("a secret could not be sealed")]
    Seal,
}

impl SecretKey {
    /// The key written as 64 hex digits or as base64 of 32 bytes.
    pub fn parse(text: &str) -> Result<SecretKey, SecretError> {
        let text = text.trim();
        let bytes = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            (0..64)
                .step_by(2)
                .map(|i| u8::from_str_radix(&text[i..i + 2], 16).map_err(|_| SecretError::BadKey))
                .collect::<Result<Vec<u8>, _>>()?
        } else {
            STANDARD.decode(text).map_err(|_| SecretError::BadKey)?
        };
        if bytes.len() != 32 {
            return Err(SecretError::BadKey);
        }
        Ok(SecretKey(*Key::from_slice(&bytes)))
    }

    /// The key in `VIGIL_SECRET_KEY`, `None` when unset or empty.
    pub fn from_env() -> Result<Option<SecretKey>, SecretError> {
        match std::env::var(SECRET_KEY_ENV) {
            Ok(text) if !text.trim().is_empty() => SecretKey::parse(&text).map(Some),
            _ => Ok(None),
        }
    }

    /// `plaintext` sealed with a fresh random nonce: `nonce ‖ ciphertext`.
    pub fn seal(&self, plaintext: &str) -> Result<Vec<u8>, SecretError> {
        let cipher = ChaCha20Poly1305::new(&self.0);
        let nonce = ChaCha20Poly1305::generate_nonce(&mut OsRng);
        let sealed = cipher
            .encrypt(&nonce, plaintext.as_bytes())
            .map_err(|_| SecretError::Seal)?;
        let mut out = nonce.to_vec();
        out.extend(sealed);
        Ok(out)
    }

    /// The plaintext of what [`SecretKey::seal`] made.
    pub fn open(&self, sealed: &[u8]) -> Result<String, SecretError> {
        if sealed.len() < NONCE {
            return Err(SecretError::Open);
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE);
        let plain = ChaCha20Poly1305::new(&self.0)
            .decrypt(Nonce::from_slice(nonce), ciphertext)
            .map_err(|_| SecretError::Open)?;
        String::from_utf8(plain).map_err(|_| SecretError::Open)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_secrets_open_only_with_their_key() {
        let key = SecretKey::parse(&"ab".repeat(32)).unwrap();
        let a = key.seal("wJalrXUtnFEMI/K7MDENG").unwrap();
        let b = key.seal("wJalrXUtnFEMI/K7MDENG").unwrap();
        assert_ne!(a, b, "a fresh nonce per secret");
        assert!(!a.windows(5).any(|w| w == b"wJalr"), "no plaintext at rest");
        assert_eq!(key.open(&a).unwrap(), "wJalrXUtnFEMI/K7MDENG");
        let other = SecretKey::parse(&STANDARD.encode([7u8; 32])).unwrap();
        assert!(other.open(&a).is_err());
        assert!(key.open(&a[..5]).is_err());
        assert!(SecretKey::parse("short").is_err());
        assert!(SecretKey::parse(&"zz".repeat(32)).is_err());
        assert_eq!(format!("{key:?}"), "SecretKey(<redacted>)");
    }
}
