//! Verifies mobway's `X-Signature` header: the hex HMAC-SHA256 of the exact body bytes, compared in constant time.

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Length in bytes of an HMAC-SHA256 tag.
const TAG_LEN: usize = 32;

/// A shared signing secret. Its `Debug` output never shows the value.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningSecret(Vec<u8>);

impl SigningSecret {
    /// Wraps a secret; `None` when it is empty, since an empty key would accept anyone's signature.
    pub fn new(value: impl Into<Vec<u8>>) -> Option<Self> {
        let value = value.into();
        (!value.is_empty()).then_some(Self(value))
    }

    fn mac(&self) -> HmacSha256 {
        // HMAC accepts keys of any length, so this cannot fail.
        <HmacSha256 as Mac>::new_from_slice(&self.0).unwrap_or_else(|_| unreachable!())
    }
}

impl fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningSecret([redacted])")
    }
}

/// Why a signature was refused. The sender is never told which; logs may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("signature header is missing")]
    Missing,
    #[error("signature header is repeated")]
    Repeated,
    #[error("signature header is not 64 hex digits")]
    Malformed,
    #[error("signature does not match the body")]
    Mismatch,
}

/// Checks signatures against the current secret and, during a rotation, the previous one.
#[derive(Debug, Clone)]
pub struct SignatureVerifier {
    current: SigningSecret,
    previous: Option<SigningSecret>,
}

impl SignatureVerifier {
    pub fn new(current: SigningSecret, previous: Option<SigningSecret>) -> Self {
        Self { current, previous }
    }

    /// Verifies the `X-Signature` header values of one request against the raw body.
    ///
    /// Exactly one header value is allowed: a repeated header is ambiguous and is refused.
    pub fn verify<'h>(
        &self,
        body: &[u8],
        header_values: impl IntoIterator<Item = &'h [u8]>,
    ) -> Result<(), SignatureError> {
        let mut values = header_values.into_iter();
        let Some(value) = values.next() else {
            return Err(SignatureError::Missing);
        };
        if values.next().is_some() {
            return Err(SignatureError::Repeated);
        }
        let tag = parse_signature_header(value)?;
        let accepted = std::iter::once(&self.current).chain(self.previous.as_ref()).any(|secret| {
            let mut mac = secret.mac();
            mac.update(body);
            // `verify_slice` compares in constant time.
            mac.verify_slice(&tag).is_ok()
        });
        if accepted { Ok(()) } else { Err(SignatureError::Mismatch) }
    }
}

/// Reads a header value: optional surrounding whitespace, an optional `sha256=` prefix, then 64 hex digits in either case.
pub fn parse_signature_header(value: &[u8]) -> Result<[u8; TAG_LEN], SignatureError> {
    let value = value.trim_ascii();
    let hex_digits = strip_prefix_ignore_case(value, b"sha256=").unwrap_or(value);
    let mut tag = [0u8; TAG_LEN];
    if hex_digits.len() != TAG_LEN * 2 {
        return Err(SignatureError::Malformed);
    }
    hex::decode_to_slice(hex_digits, &mut tag).map_err(|_| SignatureError::Malformed)?;
    Ok(tag)
}

fn strip_prefix_ignore_case<'v>(value: &'v [u8], prefix: &[u8]) -> Option<&'v [u8]> {
    let head = value.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then(|| &value[prefix.len()..])
}

/// Signs a body the way mobway does: lowercase hex of HMAC-SHA256(secret, body).
pub fn sign(secret: &SigningSecret, body: &[u8]) -> String {
    let mut mac = secret.mac();
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(value: &str) -> SigningSecret {
        SigningSecret::new(value).expect("test secrets are not empty")
    }

    fn verifier() -> SignatureVerifier {
        SignatureVerifier::new(secret("current-secret"), Some(secret("previous-secret")))
    }

    fn verify_one(verifier: &SignatureVerifier, body: &[u8], header: &str) -> Result<(), SignatureError> {
        verifier.verify(body, [header.as_bytes()])
    }

    #[test]
    fn signs_rfc4231_test_case_2_exactly() {
        let tag = sign(&secret("Jefe"), b"what do ya want for nothing?");
        assert_eq!(tag, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    }

    #[test]
    fn signs_the_empty_body_with_a_known_answer() {
        let tag = sign(&secret("key"), b"");
        assert_eq!(tag, "5d5d139563c95b5967b9bd9a8c9b233a9dedb45072794cd232dc1b74832607d0");
    }

    #[test]
    fn accepts_body_signed_with_the_current_secret() {
        let body = br#"{"VIN1":[]}"#;
        let header = sign(&secret("current-secret"), body);
        assert_eq!(verify_one(&verifier(), body, &header), Ok(()));
    }

    #[test]
    fn accepts_body_signed_with_the_previous_secret_during_rotation() {
        let body = br#"{"VIN1":[]}"#;
        let header = sign(&secret("previous-secret"), body);
        assert_eq!(verify_one(&verifier(), body, &header), Ok(()));
    }

    #[test]
    fn rejects_previous_secret_once_rotation_is_over() {
        let body = br#"{"VIN1":[]}"#;
        let only_current = SignatureVerifier::new(secret("current-secret"), None);
        let header = sign(&secret("previous-secret"), body);
        assert_eq!(verify_one(&only_current, body, &header), Err(SignatureError::Mismatch));
    }

    #[test]
    fn rejects_body_signed_with_another_secret() {
        let body = b"{}";
        let header = sign(&secret("someone-else"), body);
        assert_eq!(verify_one(&verifier(), body, &header), Err(SignatureError::Mismatch));
    }

    #[test]
    fn rejects_signature_of_another_body() {
        let header = sign(&secret("current-secret"), b"{\"a\":[]}");
        assert_eq!(verify_one(&verifier(), b"{\"b\":[]}", &header), Err(SignatureError::Mismatch));
    }

    #[test]
    fn rejects_a_body_changed_by_one_byte_of_whitespace() {
        let header = sign(&secret("current-secret"), b"{\"a\":[]}");
        assert_eq!(verify_one(&verifier(), b"{\"a\": []}", &header), Err(SignatureError::Mismatch));
    }

    #[test]
    fn rejects_missing_header() {
        assert_eq!(verifier().verify(b"{}", []), Err(SignatureError::Missing));
    }

    #[test]
    fn rejects_repeated_header_even_when_one_value_is_right() {
        let header = sign(&secret("current-secret"), b"{}");
        let values = [header.as_bytes(), header.as_bytes()];
        assert_eq!(verifier().verify(b"{}", values), Err(SignatureError::Repeated));
    }

    #[test]
    fn rejects_empty_header() {
        assert_eq!(verify_one(&verifier(), b"{}", ""), Err(SignatureError::Malformed));
    }

    #[test]
    fn rejects_signature_truncated_by_one_digit() {
        let header = sign(&secret("current-secret"), b"{}");
        assert_eq!(verify_one(&verifier(), b"{}", &header[1..]), Err(SignatureError::Malformed));
    }

    #[test]
    fn rejects_non_hex_signature() {
        let header = "z".repeat(64);
        assert_eq!(verify_one(&verifier(), b"{}", &header), Err(SignatureError::Malformed));
    }

    #[test]
    fn rejects_base64_signature_of_the_right_tag() {
        let header = "XV0TlWPJW1lnub2ajJsjOp3ttFByeUzSMtwbdIMmB9A=";
        assert_eq!(verify_one(&verifier(), b"", header), Err(SignatureError::Malformed));
    }

    #[test]
    fn accepts_uppercase_hex() {
        let header = sign(&secret("current-secret"), b"{}").to_uppercase();
        assert_eq!(verify_one(&verifier(), b"{}", &header), Ok(()));
    }

    #[test]
    fn accepts_sha256_prefix_and_surrounding_whitespace() {
        let header = format!("  sha256={} \t", sign(&secret("current-secret"), b"{}"));
        assert_eq!(verify_one(&verifier(), b"{}", &header), Ok(()));
    }

    #[test]
    fn rejects_other_algorithm_prefixes() {
        let header = format!("sha1={}", sign(&secret("current-secret"), b"{}"));
        assert_eq!(verify_one(&verifier(), b"{}", &header), Err(SignatureError::Malformed));
    }

    #[test]
    fn refuses_an_empty_secret() {
        assert!(SigningSecret::new("").is_none());
    }

    #[test]
    fn debug_output_hides_the_secret() {
        let shown = format!("{:?}", verifier());
        assert!(!shown.contains("current-secret") && !shown.contains("previous-secret"), "{shown}");
        assert!(shown.contains("[redacted]"));
    }
}
