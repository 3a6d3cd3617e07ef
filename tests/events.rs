//! Every API Gateway event in `events/` goes through the function's event decoding and the real handler,
//! with a real S3-compatible store behind it; each answer and each bucket is checked.

mod support;

use base64::prelude::{BASE64_STANDARD, Engine as _};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use mobway_receiver::handler::Receiver;
use mobway_receiver::keys::BatchId;
use serde_json::Value;
use support::{S3Server, config_for, repo_root, response_json};
use time::OffsetDateTime;
use time::macros::datetime;

fn receipt_time() -> OffsetDateTime {
    datetime!(2026-12-03 12:00:00 UTC)
}

/// What each event must produce.
struct Expected {
    status: StatusCode,
    /// Partition keys (without batch id) and record counts, plus whether a raw object is written.
    partitions: &'static [(&'static str, usize)],
    raw: bool,
}

const NOTHING: &[(&str, usize)] = &[];
const SAMPLE_PARTITIONS: &[(&str, usize)] = &[("vin=6AHFT68CKAF501652/date=2023-02-14", 2)];
const MULTI_VIN_PARTITIONS: &[(&str, usize)] = &[
    ("vin=1FTFW1ET5DFC10312/date=2023-02-14", 1),
    ("vin=1FTFW1ET5DFC10312/date=2023-02-15", 1),
    ("vin=6AHFT68CKAF501652/date=2023-02-14", 1),
    ("vin=6AHFT68CKAF501652/date=2023-02-15", 1),
    ("vin=WVWZZZ1JZXW000001/date=2023-02-15", 1),
];

fn expected(file: &str) -> Expected {
    let ok = StatusCode::OK;
    let forbidden = StatusCode::FORBIDDEN;
    match file {
        "health.json" => Expected { status: ok, partitions: NOTHING, raw: false },
        "webhook-provider-sample.json" => Expected { status: ok, partitions: SAMPLE_PARTITIONS, raw: true },
        "webhook-provider-sample-as-documented.json" => Expected { status: ok, partitions: NOTHING, raw: true },
        "webhook-multi-vin.json" | "webhook-base64.json" => {
            Expected { status: ok, partitions: MULTI_VIN_PARTITIONS, raw: true }
        }
        "webhook-rest-stage.json" => Expected { status: ok, partitions: SAMPLE_PARTITIONS, raw: true },
        "webhook-wrong-signature.json" | "webhook-missing-signature.json" => {
            Expected { status: forbidden, partitions: NOTHING, raw: false }
        }
        other => panic!("events/{other} has no expectation in tests/events.rs: add one"),
    }
}

fn event_files() -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(repo_root().join("events"))
        .expect("events/ folder")
        .map(|entry| entry.expect("directory entry").file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".json"))
        .collect();
    files.sort();
    files
}

async fn answer(server: &S3Server, bucket: &str, file: &str) -> Response<Body> {
    let config = config_for(bucket, &[]);
    let receiver =
        Receiver::new(&config, support::verifier_for(&config), server.store_for_new_bucket(bucket, &config).await)
            .with_clock(receipt_time);
    let text = std::fs::read_to_string(repo_root().join("events").join(file)).expect("read event");
    let request = support::decode_event(&text);
    receiver.handle(request).await
}

/// The delivered body of a webhook event, decoded as API Gateway would.
fn delivered_body(file: &str) -> Vec<u8> {
    let text = std::fs::read_to_string(repo_root().join("events").join(file)).expect("read event");
    let event: Value = serde_json::from_str(&text).expect("event JSON");
    let body = event["body"].as_str().unwrap_or_default();
    if event["isBase64Encoded"].as_bool() == Some(true) {
        BASE64_STANDARD.decode(body).expect("base64 body")
    } else {
        body.as_bytes().to_vec()
    }
}

#[tokio::test]
async fn every_event_gets_its_expected_answer_and_bucket_contents() {
    let server = S3Server::start();
    let files = event_files();
    assert!(files.len() >= 8, "events/ should hold the documented events, found {files:?}");
    for (n, file) in files.iter().enumerate() {
        let bucket = format!("events-{n}");
        let expected = expected(file);
        let response = answer(&server, &bucket, file).await;
        assert_eq!(response.status(), expected.status, "{file}");
        assert_eq!(response.headers()["content-type"], "application/json", "{file}");
        let body = response_json(&response);

        let keys = server.keys(&bucket).await;
        if expected.status != StatusCode::OK {
            assert_eq!(body, serde_json::json!({"status": "error", "message": "invalid signature"}), "{file}");
            assert!(keys.is_empty(), "{file} stored {keys:?}");
            continue;
        }
        if file == "health.json" {
            assert_eq!(body, serde_json::json!({"status": "success"}));
            assert!(keys.is_empty());
            continue;
        }

        let delivered = delivered_body(file);
        let batch_id = BatchId::of(&delivered);
        let mut expected_keys: Vec<String> =
            expected.partitions.iter().map(|(prefix, _)| format!("{prefix}/{batch_id}.jsonl")).collect();
        if expected.raw {
            expected_keys.push(format!("raw/date=2026-12-03/{batch_id}.json"));
        }
        expected_keys.sort();
        assert_eq!(keys, expected_keys, "{file}");
        let records: usize = expected.partitions.iter().map(|(_, records)| records).sum();
        assert_eq!(body["status"], "success", "{file}");
        assert_eq!(body["batch_id"], batch_id.as_str(), "{file}");
        assert_eq!(body["objects"], expected_keys.len(), "{file}");
        if !expected.partitions.is_empty() {
            assert_eq!(body["records"], records, "{file}");
        }
        for (prefix, count) in expected.partitions {
            let object = server.object(&bucket, &format!("{prefix}/{batch_id}.jsonl")).await;
            assert_eq!(object.text().lines().count(), *count, "{file} {prefix}");
        }
        let raw = server.object(&bucket, &format!("raw/date=2026-12-03/{batch_id}.json")).await;
        assert_eq!(raw.body, delivered, "{file}: raw object must be the body byte for byte");
    }
}

#[tokio::test]
async fn provider_sample_lines_are_the_records_without_insignificant_whitespace() {
    let server = S3Server::start();
    let response = answer(&server, "sample-lines", "webhook-provider-sample.json").await;
    assert_eq!(response.status(), StatusCode::OK);
    let delivered = delivered_body("webhook-provider-sample.json");
    let key = format!("vin=6AHFT68CKAF501652/date=2023-02-14/{}.jsonl", BatchId::of(&delivered));
    let object = server.object("sample-lines", &key).await;
    assert_eq!(object.content_type.as_deref(), Some("application/x-ndjson"));

    let sample: Value = serde_json::from_slice(&delivered).expect("sample is JSON");
    let records = sample["6AHFT68CKAF501652"].as_array().expect("records");
    let lines: Vec<&str> = object.text().lines().collect();
    assert_eq!(lines.len(), records.len());
    for (line, record) in lines.iter().zip(records) {
        assert!(!line.contains(": ") && !line.contains("\n"), "{line}");
        assert_eq!(&serde_json::from_str::<Value>(line).expect("line is JSON"), record);
    }
    assert!(
        lines[0].starts_with(r#"{"vin":"6AHFT68CKAF501652","date_time":"2023-02-14 09:51:48","speed":109.78,"#),
        "{}",
        lines[0]
    );
    assert!(lines[1].contains(r#""lv_battery_voltage":null"#));
}

#[tokio::test]
async fn documented_sample_with_python_none_is_kept_raw_with_its_signature_metadata() {
    let server = S3Server::start();
    let response = answer(&server, "as-documented", "webhook-provider-sample-as-documented.json").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response_json(&response)["records"], 0);
    let delivered = delivered_body("webhook-provider-sample-as-documented.json");
    let raw = server.object("as-documented", &format!("raw/date=2026-12-03/{}.json", BatchId::of(&delivered))).await;
    assert_eq!(raw.body, delivered);
    assert_eq!(raw.content_type.as_deref(), Some("application/json"));
    let text =
        std::fs::read_to_string(repo_root().join("events/webhook-provider-sample-as-documented.json")).expect("event");
    let event: Value = serde_json::from_str(&text).expect("event JSON");
    assert_eq!(raw.metadata.get("signature").map(String::as_str), event["headers"]["x-signature"].as_str());
    assert_eq!(raw.metadata.get("received-at").map(String::as_str), Some("2026-12-03T12:00:00Z"));
}
