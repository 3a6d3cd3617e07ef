//! API Gateway events decoded in one pass, then handed to lambda_http's adapter.

use lambda_http::aws_lambda_events::apigw::{ApiGatewayProxyRequest, ApiGatewayV2httpRequest};
use lambda_http::request::LambdaRequest;
use lambda_http::{LambdaEvent, Request};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// An API Gateway event: REST (payload 1.0), or HTTP API and function URL (payload 2.0).
///
/// lambda_http's own decoder tries the REST shape first and only then the HTTP API shape, so every HTTP API event
/// has its body unescaped twice; for a 3.5 MB delivery that tripled the decoding time (BENCHMARKS.md). This reads
/// the event once into a JSON value, whose strings then move into the shape its `version` names.
#[derive(Debug)]
pub struct ApiGatewayEvent(pub LambdaRequest);

impl<'de> Deserialize<'de> for ApiGatewayEvent {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let event = Value::deserialize(deserializer)?;
        let request = if event.get("version").and_then(Value::as_str) == Some("2.0") {
            LambdaRequest::ApiGatewayV2(ApiGatewayV2httpRequest::deserialize(event).map_err(D::Error::custom)?)
        } else {
            LambdaRequest::ApiGatewayV1(ApiGatewayProxyRequest::deserialize(event).map_err(D::Error::custom)?)
        };
        Ok(Self(request))
    }
}

impl ApiGatewayEvent {
    /// The invocation in the form lambda_http's adapter takes.
    pub fn into_lambda_request(event: LambdaEvent<Self>) -> LambdaEvent<LambdaRequest> {
        LambdaEvent::new(event.payload.0, event.context)
    }
}

impl From<ApiGatewayEvent> for Request {
    fn from(event: ApiGatewayEvent) -> Self {
        event.0.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::RequestExt;
    use lambda_http::request::RequestContext;

    /// Method, URI, sorted headers, body, and the kind and stage of the event the request came from.
    type Parts = (String, String, Vec<(String, String)>, Vec<u8>, &'static str, Option<String>);

    fn parts(request: Request) -> Parts {
        let (kind, stage) = match request.request_context_ref() {
            Some(RequestContext::ApiGatewayV1(context)) => ("rest", context.stage.clone()),
            Some(RequestContext::ApiGatewayV2(context)) => ("http api", context.stage.clone()),
            _ => ("other", None),
        };
        let mut headers: Vec<(String, String)> = request
            .headers()
            .iter()
            .map(|(name, value)| (name.to_string(), String::from_utf8_lossy(value.as_bytes()).into_owned()))
            .collect();
        headers.sort();
        let (head, body) = request.into_parts();
        (head.method.to_string(), head.uri.to_string(), headers, body.to_vec(), kind, stage)
    }

    fn event_files() -> Vec<std::path::PathBuf> {
        let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("events");
        let mut files: Vec<_> = std::fs::read_dir(folder)
            .expect("events/ folder")
            .map(|entry| entry.expect("directory entry").path())
            .filter(|path| path.extension().is_some_and(|extension| extension == "json"))
            .collect();
        files.sort();
        files
    }

    #[test]
    fn every_event_in_the_events_folder_decodes_as_lambda_http_decodes_it() {
        let mut kinds = Vec::new();
        for file in event_files() {
            let json = std::fs::read_to_string(&file).expect("read event");
            let ours: Request = serde_json::from_str::<ApiGatewayEvent>(&json).expect("an API Gateway event").into();
            let theirs = lambda_http::request::from_str(&json).expect("lambda_http decodes it");
            let ours = parts(ours);
            assert_eq!(ours, parts(theirs), "{}", file.display());
            kinds.push(ours.4);
        }
        assert!(kinds.contains(&"rest") && kinds.contains(&"http api"), "both payload versions are covered: {kinds:?}");
    }

    #[test]
    fn event_of_neither_shape_is_an_error() {
        for json in [r#"{"version":"2.0"}"#, r#"{"detail-type":"Scheduled Event"}"#, "[]", "{"] {
            assert!(serde_json::from_str::<ApiGatewayEvent>(json).is_err(), "{json}");
        }
    }
}
