//! The one error type of a request, and the one place that maps it to a status and a JSON body.

use lambda_http::http::StatusCode;
use lambda_http::http::header::{ALLOW, CONTENT_TYPE, HeaderValue};
use lambda_http::{Body, Response};
use serde_json::json;

use crate::signature::SignatureError;
use crate::storage::StorageError;

/// Why a request was not answered with success.
#[derive(Debug, thiserror::Error)]
pub enum ReceiveError {
    #[error("no route for this path")]
    NotFound,
    #[error("method not allowed; allowed: {allow}")]
    MethodNotAllowed { allow: &'static str },
    #[error("invalid signature: {0}")]
    InvalidSignature(#[from] SignatureError),
    #[error("storage unavailable: {0}")]
    StorageUnavailable(#[from] StorageError),
}

impl ReceiveError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::InvalidSignature(_) => StatusCode::FORBIDDEN,
            Self::StorageUnavailable(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// What the sender is told: fixed text, the same for every cause of one status, never an internal detail.
    pub fn public_message(&self) -> &'static str {
        match self {
            Self::NotFound => "not found",
            Self::MethodNotAllowed { .. } => "method not allowed",
            Self::InvalidSignature(_) => "invalid signature",
            Self::StorageUnavailable(_) => "storage unavailable",
        }
    }

    pub fn into_response(self) -> Response<Body> {
        let mut response = json_response(self.status(), &json!({"status": "error", "message": self.public_message()}));
        if let Self::MethodNotAllowed { allow } = self {
            response.headers_mut().insert(ALLOW, HeaderValue::from_static(allow));
        }
        response
    }
}

/// An `application/json` response.
pub fn json_response(status: StatusCode, body: &serde_json::Value) -> Response<Body> {
    let mut response = Response::new(Body::Text(body.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body_text(response: &Response<Body>) -> &str {
        match response.body() {
            Body::Text(text) => text,
            other => panic!("expected a text body, got {other:?}"),
        }
    }

    #[test]
    fn every_signature_failure_gets_the_same_403_body() {
        let causes =
            [SignatureError::Missing, SignatureError::Repeated, SignatureError::Malformed, SignatureError::Mismatch];
        let bodies: Vec<String> = causes
            .into_iter()
            .map(|cause| {
                let response = ReceiveError::from(cause).into_response();
                assert_eq!(response.status(), StatusCode::FORBIDDEN);
                body_text(&response).to_owned()
            })
            .collect();
        assert!(bodies.iter().all(|body| body == r#"{"message":"invalid signature","status":"error"}"#), "{bodies:?}");
    }

    #[test]
    fn storage_failure_answers_500_without_the_cause() {
        let error = StorageError {
            key: "vin=X/date=2023-02-14/abc.jsonl".into(),
            cause: "dispatch failure: connection refused".into(),
        };
        let response = ReceiveError::from(error).into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(body_text(&response), r#"{"message":"storage unavailable","status":"error"}"#);
    }

    #[test]
    fn method_not_allowed_says_which_method_is() {
        let response = ReceiveError::MethodNotAllowed { allow: "POST" }.into_response();
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(response.headers()[ALLOW], "POST");
        assert_eq!(response.headers()[CONTENT_TYPE], "application/json");
    }
}
