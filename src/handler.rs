//! The HTTP face of the receiver: routes a Lambda HTTP request, verifies, plans, stores and answers.

use std::time::Instant;

use bytes::Bytes;
use lambda_http::http::{Method, StatusCode};
use lambda_http::request::RequestContext;
use lambda_http::tracing::{error, warn};
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::json;
use time::OffsetDateTime;

use crate::config::Config;
use crate::delivery::{DeliveryPlan, Layout};
use crate::error::{ReceiveError, json_response};
use crate::signature::SignatureVerifier;
use crate::storage::{ObjectStore, store_all};
use crate::telemetry::{Outcome, RequestSummary, Telemetry};

const SIGNATURE_HEADER: &str = "x-signature";

/// The routes the receiver answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Health,
    Webhook,
}

impl Route {
    /// Matches a method and a path from which any stage name has been removed.
    pub fn resolve(method: &Method, path: &str) -> Result<Self, ReceiveError> {
        let (route, allowed, allow) = match path {
            "/" | "" => (Self::Health, Method::GET, "GET"),
            "/webhook" => (Self::Webhook, Method::POST, "POST"),
            _ => return Err(ReceiveError::NotFound),
        };
        if *method == allowed { Ok(route) } else { Err(ReceiveError::MethodNotAllowed { allow }) }
    }
}

/// Removes a leading `/{stage}` that API Gateway puts in front of the route (`/Prod/webhook`).
pub fn path_without_stage<'p>(path: &'p str, stage: Option<&str>) -> &'p str {
    match stage {
        Some(stage) if !stage.is_empty() && stage != "$default" => path
            .strip_prefix('/')
            .and_then(|rest| rest.strip_prefix(stage))
            .filter(|rest| rest.is_empty() || rest.starts_with('/'))
            .unwrap_or(path),
        _ => path,
    }
}

fn stage_of(request: &Request) -> Option<&str> {
    match request.request_context_ref()? {
        RequestContext::ApiGatewayV1(context) => context.stage.as_deref(),
        RequestContext::ApiGatewayV2(context) => context.stage.as_deref(),
        _ => None,
    }
}

/// The receiver with its configuration and store, built once per container.
pub struct Receiver<S> {
    verifier: SignatureVerifier,
    layout: Layout,
    telemetry: Telemetry,
    store: S,
    clock: fn() -> OffsetDateTime,
}

impl<S: ObjectStore> Receiver<S> {
    /// A receiver for the configuration, with the verifier built from its secrets (see `secrets::load_verifier`).
    pub fn new(config: &Config, verifier: SignatureVerifier, store: S) -> Self {
        Self {
            verifier,
            layout: config.layout.clone(),
            telemetry: config.telemetry.clone(),
            store,
            clock: OffsetDateTime::now_utc,
        }
    }

    /// Uses another clock for the receipt time, so tests can pin the raw object's date.
    pub fn with_clock(self, clock: fn() -> OffsetDateTime) -> Self {
        Self { clock, ..self }
    }

    /// Answers one request and reports its summary. Never fails and never panics on client input.
    pub async fn handle(&self, request: Request) -> Response<Body> {
        let (response, summary) = self.process(request).await;
        self.telemetry.report(&summary);
        response
    }

    /// Answers one request and says what it came to, without reporting it.
    pub async fn process(&self, request: Request) -> (Response<Body>, RequestSummary) {
        let started = Instant::now();
        let mut summary = RequestSummary::default();
        let response = match self.respond(request, &mut summary).await {
            Ok(response) => response,
            Err(error) => {
                summary.outcome = match &error {
                    ReceiveError::InvalidSignature(cause) => {
                        warn!(%cause, "signature refused");
                        Outcome::Rejected
                    }
                    ReceiveError::StorageUnavailable(failure) => {
                        error!(key = failure.key, cause = failure.cause, "batch not stored; the sender will retry");
                        Outcome::Failed
                    }
                    ReceiveError::NotFound | ReceiveError::MethodNotAllowed { .. } => Outcome::Unrouted,
                };
                error.into_response()
            }
        };
        summary.duration = started.elapsed();
        (response, summary)
    }

    async fn respond(&self, request: Request, summary: &mut RequestSummary) -> Result<Response<Body>, ReceiveError> {
        let path = path_without_stage(request.uri().path(), stage_of(&request));
        match Route::resolve(request.method(), path)? {
            Route::Health => {
                summary.outcome = Outcome::Health;
                Ok(json_response(StatusCode::OK, &json!({"status": "success"})))
            }
            Route::Webhook => self.receive(request, summary).await,
        }
    }

    async fn receive(&self, request: Request, summary: &mut RequestSummary) -> Result<Response<Body>, ReceiveError> {
        let (parts, body) = request.into_parts();
        let body = body_bytes(body);
        summary.bytes_received = body.len();
        let signatures = parts.headers.get_all(SIGNATURE_HEADER);
        self.verifier.verify(&body, signatures.iter().map(|value| value.as_bytes()))?;
        let signature = signatures.iter().next().and_then(|value| value.to_str().ok()).unwrap_or_default();

        let plan = DeliveryPlan::new(body, signature, (self.clock)(), &self.layout);
        let DeliveryPlan { batch_id, records, vins, unpartitioned, objects } = plan;
        let object_count = objects.len();
        summary.batch_id = Some(batch_id.clone());
        summary.vins = vins;
        summary.records = records;
        summary.records_unpartitioned = unpartitioned.records();
        store_all(&self.store, objects).await?;
        summary.outcome = Outcome::Stored;
        summary.objects_written = object_count;

        if !unpartitioned.is_empty() {
            warn!(
                %batch_id,
                records_unpartitioned = unpartitioned.records(),
                unreadable_body = unpartitioned.unreadable_body,
                non_array_entries = unpartitioned.non_array_entries,
                records_with_bad_vin = unpartitioned.records_with_bad_vin,
                records_not_objects = unpartitioned.records_not_objects,
                records_without_date = unpartitioned.records_without_date,
                "batch kept raw: part of it could not be partitioned"
            );
        }
        Ok(json_response(
            StatusCode::OK,
            &json!({"status": "success", "batch_id": batch_id.as_str(), "records": records, "objects": object_count}),
        ))
    }
}

/// The body as API Gateway delivered it; lambda_http has already decoded a base64 body into bytes.
fn body_bytes(body: Body) -> Bytes {
    match body {
        Body::Empty => Bytes::new(),
        Body::Text(text) => Bytes::from(text),
        Body::Binary(bytes) => Bytes::from(bytes),
        _ => Bytes::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_health_check_and_webhook() {
        assert_eq!(Route::resolve(&Method::GET, "/").ok(), Some(Route::Health));
        assert_eq!(Route::resolve(&Method::POST, "/webhook").ok(), Some(Route::Webhook));
    }

    #[test]
    fn other_methods_on_known_routes_are_not_allowed() {
        assert!(matches!(
            Route::resolve(&Method::GET, "/webhook"),
            Err(ReceiveError::MethodNotAllowed { allow: "POST" })
        ));
        assert!(matches!(Route::resolve(&Method::DELETE, "/"), Err(ReceiveError::MethodNotAllowed { allow: "GET" })));
    }

    #[test]
    fn unknown_paths_are_not_found() {
        for path in ["/webhooks", "/webhook/", "/Prod/webhook", "/x"] {
            assert!(matches!(Route::resolve(&Method::POST, path), Err(ReceiveError::NotFound)), "{path}");
        }
    }

    #[test]
    fn stage_name_is_not_part_of_the_route() {
        assert_eq!(path_without_stage("/Prod/webhook", Some("Prod")), "/webhook");
        assert_eq!(path_without_stage("/Prod", Some("Prod")), "");
        assert_eq!(path_without_stage("/webhook", Some("$default")), "/webhook");
        assert_eq!(path_without_stage("/webhook", None), "/webhook");
        assert_eq!(path_without_stage("/Production/webhook", Some("Prod")), "/Production/webhook");
    }
}
