//! One summary per request: an info log line, and a CloudWatch Embedded Metric Format line for webhook deliveries.

use std::fmt;
use std::time::Duration;

use lambda_http::tracing::info;
use serde_json::{Map, Value, json};

use crate::keys::BatchId;

/// How a request ended, as the summary line and the metrics report it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Outcome {
    /// A delivery whose objects were all written.
    Stored,
    /// A delivery refused for its signature.
    Rejected,
    /// A signed delivery that could not be written: the sender was told to retry.
    Failed,
    /// The health check.
    Health,
    /// A path or method the receiver does not serve.
    #[default]
    Unrouted,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stored => "stored",
            Self::Rejected => "rejected",
            Self::Failed => "failed",
            Self::Health => "health",
            Self::Unrouted => "unrouted",
        }
    }

    /// Whether the request was a delivery attempt, which the metrics count.
    pub fn is_delivery(self) -> bool {
        matches!(self, Self::Stored | Self::Rejected | Self::Failed)
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What one request came to. Counts only: never payload content or secrets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestSummary {
    pub outcome: Outcome,
    pub batch_id: Option<BatchId>,
    pub vins: usize,
    pub records: usize,
    pub records_unpartitioned: usize,
    pub objects_written: usize,
    pub bytes_received: usize,
    pub duration: Duration,
}

/// The metrics the function emits. `template.yaml`'s alarms and dashboard may only use these names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    DeliveriesStored,
    SignaturesRejected,
    StorageFailures,
    RecordsStored,
    ObjectsWritten,
    BytesReceived,
    RecordsUnpartitioned,
    HandlerDuration,
}

impl Metric {
    pub const ALL: [Self; 8] = [
        Self::DeliveriesStored,
        Self::SignaturesRejected,
        Self::StorageFailures,
        Self::RecordsStored,
        Self::ObjectsWritten,
        Self::BytesReceived,
        Self::RecordsUnpartitioned,
        Self::HandlerDuration,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::DeliveriesStored => "DeliveriesStored",
            Self::SignaturesRejected => "SignaturesRejected",
            Self::StorageFailures => "StorageFailures",
            Self::RecordsStored => "RecordsStored",
            Self::ObjectsWritten => "ObjectsWritten",
            Self::BytesReceived => "BytesReceived",
            Self::RecordsUnpartitioned => "RecordsUnpartitioned",
            Self::HandlerDuration => "HandlerDuration",
        }
    }

    /// The CloudWatch unit, as EMF spells it.
    pub fn unit(self) -> &'static str {
        match self {
            Self::BytesReceived => "Bytes",
            Self::HandlerDuration => "Milliseconds",
            _ => "Count",
        }
    }

    fn value(self, summary: &RequestSummary) -> f64 {
        let flag = |outcome| if summary.outcome == outcome { 1.0 } else { 0.0 };
        match self {
            Self::DeliveriesStored => flag(Outcome::Stored),
            Self::SignaturesRejected => flag(Outcome::Rejected),
            Self::StorageFailures => flag(Outcome::Failed),
            Self::RecordsStored if summary.outcome == Outcome::Stored => {
                summary.records.saturating_sub(summary.records_unpartitioned) as f64
            }
            Self::ObjectsWritten if summary.outcome == Outcome::Stored => summary.objects_written as f64,
            Self::RecordsUnpartitioned if summary.outcome == Outcome::Stored => summary.records_unpartitioned as f64,
            Self::RecordsStored | Self::ObjectsWritten | Self::RecordsUnpartitioned => 0.0,
            Self::BytesReceived => summary.bytes_received as f64,
            Self::HandlerDuration => summary.duration.as_secs_f64() * 1000.0,
        }
    }
}

/// The one dimension every metric carries.
pub const DIMENSION: &str = "FunctionName";

/// Reports request summaries to the logs and, as EMF, to CloudWatch metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Telemetry {
    pub namespace: String,
    pub function_name: String,
}

impl Telemetry {
    /// Writes the summary log line and, for a delivery, the EMF line on standard output.
    pub fn report(&self, summary: &RequestSummary) {
        let batch_id = summary.batch_id.as_ref().map(BatchId::as_str).unwrap_or_default();
        info!(
            outcome = summary.outcome.as_str(),
            batch_id,
            vins = summary.vins,
            records = summary.records,
            objects = summary.objects_written,
            bytes_received = summary.bytes_received,
            records_unpartitioned = summary.records_unpartitioned,
            duration_ms = summary.duration.as_secs_f64() * 1000.0,
            "request summary"
        );
        if let Some(line) = self.emf_line(summary, now_millis()) {
            // EMF must reach CloudWatch Logs as a line of its own, so it bypasses the log formatter.
            println!("{line}");
        }
    }

    /// The EMF document for a delivery, or `None` for other requests.
    pub fn emf_line(&self, summary: &RequestSummary, timestamp_millis: u64) -> Option<String> {
        if !summary.outcome.is_delivery() {
            return None;
        }
        let definitions: Vec<Value> =
            Metric::ALL.iter().map(|metric| json!({"Name": metric.name(), "Unit": metric.unit()})).collect();
        let mut document = Map::new();
        document.insert(
            "_aws".into(),
            json!({
                "Timestamp": timestamp_millis,
                "CloudWatchMetrics": [{
                    "Namespace": self.namespace,
                    "Dimensions": [[DIMENSION]],
                    "Metrics": definitions,
                }],
            }),
        );
        document.insert(DIMENSION.into(), Value::from(self.function_name.as_str()));
        for metric in Metric::ALL {
            document.insert(metric.name().into(), Value::from(metric.value(summary)));
        }
        // Properties that are not metrics: searchable in Logs Insights, not charged as metrics.
        document.insert("outcome".into(), Value::from(summary.outcome.as_str()));
        if let Some(batch_id) = &summary.batch_id {
            document.insert("batch_id".into(), Value::from(batch_id.as_str()));
        }
        Some(Value::Object(document).to_string())
    }
}

fn now_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn telemetry() -> Telemetry {
        Telemetry { namespace: "MobwayReceiver".into(), function_name: "receiver-fn".into() }
    }

    fn stored() -> RequestSummary {
        RequestSummary {
            outcome: Outcome::Stored,
            batch_id: Some(BatchId::of(b"body")),
            vins: 2,
            records: 5,
            records_unpartitioned: 1,
            objects_written: 3,
            bytes_received: 1234,
            duration: Duration::from_micros(12_500),
        }
    }

    fn emf(summary: &RequestSummary) -> Value {
        let line = telemetry().emf_line(summary, 1_796_385_600_000).expect("a delivery has an EMF line");
        assert!(!line.contains('\n'));
        serde_json::from_str(&line).expect("EMF is JSON")
    }

    #[test]
    fn stored_delivery_emits_every_metric_with_its_unit_and_value() {
        let document = emf(&stored());
        let directive = &document["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(document["_aws"]["Timestamp"], 1_796_385_600_000u64);
        assert_eq!(directive["Namespace"], "MobwayReceiver");
        assert_eq!(directive["Dimensions"], json!([["FunctionName"]]));
        assert_eq!(document["FunctionName"], "receiver-fn");
        let names: Vec<&str> = directive["Metrics"]
            .as_array()
            .expect("metrics")
            .iter()
            .map(|m| m["Name"].as_str().expect("name"))
            .collect();
        assert_eq!(names, Metric::ALL.map(Metric::name));
        assert_eq!(directive["Metrics"][5], json!({"Name": "BytesReceived", "Unit": "Bytes"}));
        assert_eq!(directive["Metrics"][7], json!({"Name": "HandlerDuration", "Unit": "Milliseconds"}));
        assert_eq!(document["DeliveriesStored"], 1.0);
        assert_eq!(document["SignaturesRejected"], 0.0);
        assert_eq!(document["RecordsStored"], 4.0);
        assert_eq!(document["RecordsUnpartitioned"], 1.0);
        assert_eq!(document["ObjectsWritten"], 3.0);
        assert_eq!(document["BytesReceived"], 1234.0);
        assert_eq!(document["HandlerDuration"], 12.5);
        assert_eq!(document["outcome"], "stored");
    }

    #[test]
    fn rejected_delivery_counts_one_rejection_and_nothing_stored() {
        let summary = RequestSummary { outcome: Outcome::Rejected, bytes_received: 10, ..Default::default() };
        let document = emf(&summary);
        assert_eq!(document["SignaturesRejected"], 1.0);
        assert_eq!(document["DeliveriesStored"], 0.0);
        assert_eq!(document["RecordsStored"], 0.0);
        assert!(document.get("batch_id").is_none());
    }

    #[test]
    fn failed_delivery_counts_one_storage_failure_and_no_records_stored() {
        let summary = RequestSummary { outcome: Outcome::Failed, ..stored() };
        let document = emf(&summary);
        assert_eq!(document["StorageFailures"], 1.0);
        assert_eq!(document["RecordsStored"], 0.0);
        assert_eq!(document["ObjectsWritten"], 0.0);
    }

    #[test]
    fn health_checks_and_unrouted_requests_emit_no_metrics() {
        for outcome in [Outcome::Health, Outcome::Unrouted] {
            let summary = RequestSummary { outcome, ..Default::default() };
            assert_eq!(telemetry().emf_line(&summary, 0), None);
        }
    }
}
