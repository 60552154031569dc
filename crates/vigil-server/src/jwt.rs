//! JSON Web Tokens signed with HMAC-SHA256 (HS256), the only algorithm this
//! server issues or accepts. The key is shared by every node on one store
//! (the `jwt_signing_key` setting).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// How long a token is valid: 4 hours, as the seed's tokens.
pub const LIFETIME_SECONDS: i64 = 4 * 60 * 60;

/// The header of every token this server signs.
const HEADER: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

/// What a token says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The username.
    pub sub: String,
    /// The role at the time of login (the server re-reads the user).
    pub role: String,
    /// Issued at (seconds since the epoch).
    pub iat: i64,
    /// Expires at (seconds since the epoch).
    pub exp: i64,
}

/// Why a token was refused. None of these reveal the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the token is not a JWT (three base64url parts separated by dots)")]
    Malformed,
    #[error("the token's algorithm is not HS256")]
    Algorithm,
    #[error("the token's signature is not valid")]
    Signature,
    #[error("the token has expired; get a new one from POST /auth")]
    Expired,
}

/// Signs and checks tokens with one key.
#[derive(Clone)]
pub struct Signer {
    key: Vec<u8>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer { key: <redacted> }")
    }
}

impl Signer {
    /// A signer with `key` (32 random bytes).
    pub fn new(key: Vec<u8>) -> Signer {
        Signer { key }
    }

    fn mac(&self) -> Hmac<Sha256> {
        // HMAC takes keys of any length; this cannot fail.
        <Hmac<Sha256> as Mac>::new_from_slice(&self.key).unwrap_or_else(|_| unreachable!())
    }

    /// The signed token of `claims`.
    pub fn sign(&self, claims: &Claims) -> String {
        let payload = serde_json::to_vec(claims).unwrap_or_default();
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(HEADER),
            URL_SAFE_NO_PAD.encode(payload)
        );
        let mut mac = self.mac();
        mac.update(signing_input.as_bytes());
        let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        format!("{signing_input}.{signature}")
    }

    /// The claims of `token` if it is signed with this key, HS256, and not
    /// expired at `now` (seconds since the epoch).
    pub fn verify(&self, token: &str, now: i64) -> Result<Claims, TokenError> {
        let (signing_input, signature) = token.rsplit_once('.').ok_or(TokenError::Malformed)?;
        let (header, payload) = signing_input.split_once('.').ok_or(TokenError::Malformed)?;
        if payload.contains('.') {
            return Err(TokenError::Malformed);
        }
        let header = URL_SAFE_NO_PAD
            .decode(header)
            .map_err(|_| TokenError::Malformed)?;
        let header: serde_json::Value =
            serde_json::from_slice(&header).map_err(|_| TokenError::Malformed)?;
        if header.get("alg").and_then(|a| a.as_str()) != Some("HS256") {
            return Err(TokenError::Algorithm);
        }
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| TokenError::Malformed)?;
        let mut mac = self.mac();
        mac.update(signing_input.as_bytes());
        mac.verify_slice(&signature)
            .map_err(|_| TokenError::Signature)?;
        let payload = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| TokenError::Malformed)?;
        let claims: Claims = serde_json::from_slice(&payload).map_err(|_| TokenError::Malformed)?;
        if claims.exp <= now {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp: i64) -> Claims {
        Claims {
            sub: "admin".into(),
            role: "manager".into(),
            iat: 1_000,
            exp,
        }
    }

    #[test]
    fn signed_tokens_verify_until_they_expire() {
        let signer = Signer::new(vec![7; 32]);
        let token = signer.sign(&claims(2_000));
        assert_eq!(token.split('.').count(), 3);
        assert_eq!(signer.verify(&token, 1_999), Ok(claims(2_000)));
        assert_eq!(signer.verify(&token, 2_000), Err(TokenError::Expired));
    }

    #[test]
    fn other_keys_tampering_and_other_algorithms_are_refused() {
        let signer = Signer::new(vec![7; 32]);
        let token = signer.sign(&claims(2_000));
        assert_eq!(
            Signer::new(vec![8; 32]).verify(&token, 1_500),
            Err(TokenError::Signature)
        );
        let parts: Vec<&str> = token.split('.').collect();
        let forged =
            URL_SAFE_NO_PAD.encode(r#"{"sub":"admin","role":"manager","iat":1000,"exp":9999}"#);
        let tampered = format!("{}.{forged}.{}", parts[0], parts[2]);
        assert_eq!(signer.verify(&tampered, 1_500), Err(TokenError::Signature));
        let none = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
        let unsigned = format!("{none}.{}.", parts[1]);
        assert_eq!(signer.verify(&unsigned, 1_500), Err(TokenError::Algorithm));
        assert_eq!(signer.verify("abc", 1_500), Err(TokenError::Malformed));
        assert_eq!(signer.verify("a.b.c.d", 1_500), Err(TokenError::Malformed));
    }
}
