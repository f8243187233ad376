//! JSON Web Tokens (RFC 7519), HS256 only, signed and checked by hand with
//! hmac + sha2: a few dozen lines we can read beat a JWT crate's many algorithms.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// pistack's claims. `fam` ties every token to the login it descends from, so
/// ending that login (logout, password change, reuse of a rotated refresh token)
/// ends its access tokens too.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Claims {
    pub typ: String,
    pub jti: String,
    pub sub: String,
    pub nam: String,
    pub lvl: String,
    pub iat: u64,
    pub exp: u64,
    pub fam: String,
}

const HEADER: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

pub fn sign(claims: &Claims, secret: &[u8]) -> String {
    let payload = serde_json::to_vec(claims).unwrap_or_default();
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(HEADER),
        URL_SAFE_NO_PAD.encode(payload)
    );
    let sig = mac(secret, signing_input.as_bytes())
        .finalize()
        .into_bytes();
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig))
}

fn mac(secret: &[u8], data: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length; new_from_slice cannot fail for it.
    let mut m = match HmacSha256::new_from_slice(secret) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC accepts any key length"),
    };
    m.update(data);
    m
}

/// Why a token was refused (said to the client as is: it reveals nothing secret).
#[derive(Debug, PartialEq, Eq)]
pub enum TokenError {
    Malformed,
    Algorithm(String),
    Signature,
    Expired,
}

impl std::fmt::Display for TokenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TokenError::Malformed => write!(f, "the token is not a well-formed JWT"),
            TokenError::Algorithm(a) => {
                write!(f, "token algorithm {a:?} is not accepted (only HS256)")
            }
            TokenError::Signature => write!(f, "the token's signature is wrong"),
            TokenError::Expired => write!(f, "the token has expired; refresh it or log in again"),
        }
    }
}

/// Check the signature (constant time) and the header, and decode the claims,
/// without looking at `exp`.
pub fn verify_signature<T: for<'de> Deserialize<'de>>(
    token: &str,
    secret: &[u8],
) -> Result<T, TokenError> {
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed);
    };
    let header: serde_json::Value = URL_SAFE_NO_PAD
        .decode(h)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or(TokenError::Malformed)?;
    match header.get("alg").and_then(|a| a.as_str()) {
        Some("HS256") => {}
        Some(other) => return Err(TokenError::Algorithm(other.to_string())),
        None => return Err(TokenError::Algorithm("missing".into())),
    }
    let sig = URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|_| TokenError::Malformed)?;
    let signing_input = &token[..h.len() + 1 + p.len()];
    mac(secret, signing_input.as_bytes())
        .verify_slice(&sig)
        .map_err(|_| TokenError::Signature)?;
    let payload = URL_SAFE_NO_PAD
        .decode(p)
        .map_err(|_| TokenError::Malformed)?;
    serde_json::from_slice(&payload).map_err(|_| TokenError::Malformed)
}

/// Verify signature and expiry.
pub fn verify(token: &str, secret: &[u8], now: u64) -> Result<Claims, TokenError> {
    let claims: Claims = verify_signature(token, secret)?;
    if claims.exp <= now {
        return Err(TokenError::Expired);
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7515 appendix A.1: the HS256 example, signature recomputed and checked.
    #[test]
    fn rfc7515_a1_known_answer() {
        let jwk_k = "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow";
        let key = URL_SAFE_NO_PAD.decode(jwk_k).unwrap();
        let token = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9\
            .eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ\
            .dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let payload: serde_json::Value = verify_signature(token, &key).unwrap();
        assert_eq!(payload["iss"], "joe");
        assert_eq!(payload["exp"], 1300819380);
        let (input, _) = token.rsplit_once('.').unwrap();
        let sig = mac(&key, input.as_bytes()).finalize().into_bytes();
        assert_eq!(
            URL_SAFE_NO_PAD.encode(sig),
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
        );
        // One flipped bit in the payload breaks it.
        let tampered = token.replacen("eyJpc3Mi", "eyJpc3Ni", 1);
        assert_eq!(
            verify_signature::<serde_json::Value>(&tampered, &key).unwrap_err(),
            TokenError::Signature
        );
    }

    fn claims(exp: u64) -> Claims {
        Claims {
            typ: "access".into(),
            jti: "j".into(),
            sub: "u".into(),
            nam: "root".into(),
            lvl: "Root".into(),
            iat: 1,
            exp,
            fam: "f".into(),
        }
    }

    #[test]
    fn round_trip_expiry_and_wrong_key() {
        let t = sign(&claims(100), b"k1");
        assert_eq!(verify(&t, b"k1", 99).unwrap(), claims(100));
        assert_eq!(verify(&t, b"k1", 100).unwrap_err(), TokenError::Expired);
        assert_eq!(verify(&t, b"k2", 99).unwrap_err(), TokenError::Signature);
    }

    #[test]
    fn alg_none_and_others_refused() {
        let t = sign(&claims(100), b"k");
        let payload = t.split('.').nth(1).unwrap();
        for alg in [
            r#"{"alg":"none"}"#,
            r#"{"alg":"HS512"}"#,
            r#"{"typ":"JWT"}"#,
        ] {
            let forged = format!("{}.{payload}.", URL_SAFE_NO_PAD.encode(alg));
            assert!(
                matches!(verify(&forged, b"k", 1), Err(TokenError::Algorithm(_))),
                "{alg}"
            );
        }
        assert_eq!(verify("a.b", b"k", 1).unwrap_err(), TokenError::Malformed);
        assert_eq!(verify("", b"k", 1).unwrap_err(), TokenError::Malformed);
    }
}
