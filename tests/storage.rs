//! The receiver's storage path against a real S3-compatible server (s3s-fs on 127.0.0.1, SigV4 checked):
//! exact objects, prefixes, the raw switch, retries, rotation and failures.

mod support;

use lambda_http::http::StatusCode;
use mobway_receiver::handler::Receiver;
use mobway_receiver::keys::BatchId;
use mobway_receiver::s3::S3Store;
use serde_json::json;
use support::{
    S3Server, TEST_SIGN_SECRET, config_for, http_api_request, http_api_request_in_stage, response_json, signature_for,
    signed_delivery,
};
use time::OffsetDateTime;
use time::macros::datetime;

fn receipt_time() -> OffsetDateTime {
    datetime!(2026-12-03 12:00:00 UTC)
}

async fn receiver(server: &S3Server, bucket: &str, extra: &[(&str, &str)]) -> Receiver<S3Store> {
    let config = config_for(bucket, extra);
    Receiver::new(&config, support::verifier_for(&config), server.store_for_new_bucket(bucket, &config).await)
        .with_clock(receipt_time)
}

const TWO_VINS: &[u8] =
    br#"{"VIN1":[{"date_time":"2023-02-14 10:00:00","speed":1.50}],"VIN2":[{"date_time":"2023-02-15 10:00:00"}]}"#;

#[tokio::test]
async fn stores_partitions_and_raw_body_with_content_types_and_metadata() {
    let server = S3Server::start();
    let receiver = receiver(&server, "layout", &[]).await;
    let response = receiver.handle(signed_delivery(TWO_VINS, TEST_SIGN_SECRET)).await;
    let id = BatchId::of(TWO_VINS);
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response_json(&response),
        json!({"status": "success", "batch_id": id.as_str(), "records": 2, "objects": 3})
    );
    assert_eq!(
        server.keys("layout").await,
        [
            format!("raw/date=2026-12-03/{id}.json"),
            format!("vin=VIN1/date=2023-02-14/{id}.jsonl"),
            format!("vin=VIN2/date=2023-02-15/{id}.jsonl"),
        ]
    );
    let partition = server.object("layout", &format!("vin=VIN1/date=2023-02-14/{id}.jsonl")).await;
    assert_eq!(partition.text(), "{\"date_time\":\"2023-02-14 10:00:00\",\"speed\":1.50}\n");
    assert_eq!(partition.content_type.as_deref(), Some("application/x-ndjson"));
    let raw = server.object("layout", &format!("raw/date=2026-12-03/{id}.json")).await;
    assert_eq!(raw.body, TWO_VINS);
    assert_eq!(raw.content_type.as_deref(), Some("application/json"));
    assert_eq!(raw.metadata.get("signature"), Some(&signature_for(TWO_VINS, TEST_SIGN_SECRET)));
    assert_eq!(raw.metadata.get("received-at").map(String::as_str), Some("2026-12-03T12:00:00Z"));
}

#[tokio::test]
async fn key_prefix_is_put_in_front_of_every_key() {
    let server = S3Server::start();
    let receiver = receiver(&server, "prefixed", &[("KEY_PREFIX", "mobway/telemetry/")]).await;
    assert_eq!(receiver.handle(signed_delivery(TWO_VINS, TEST_SIGN_SECRET)).await.status(), StatusCode::OK);
    let keys = server.keys("prefixed").await;
    assert_eq!(keys.len(), 3);
    assert!(keys.iter().all(|key| key.starts_with("mobway/telemetry/")), "{keys:?}");
}

#[tokio::test]
async fn raw_archive_off_stores_only_partitions_when_everything_was_partitioned() {
    let server = S3Server::start();
    let receiver = receiver(&server, "no-raw", &[("RAW_ARCHIVE", "false")]).await;
    let response = receiver.handle(signed_delivery(TWO_VINS, TEST_SIGN_SECRET)).await;
    assert_eq!(response_json(&response)["objects"], 2);
    let keys = server.keys("no-raw").await;
    assert!(keys.iter().all(|key| key.starts_with("vin=")), "{keys:?}");
}

#[tokio::test]
async fn raw_archive_off_still_keeps_a_body_with_unpartitioned_records() {
    let server = S3Server::start();
    let receiver = receiver(&server, "no-raw-bad-vin", &[("RAW_ARCHIVE", "false")]).await;
    let body = br#"{"VIN1":[{"date_time":"2023-02-14 10:00:00"}],"VIN/../2":[{"date_time":"2023-02-14 10:00:00"}]}"#;
    let response = receiver.handle(signed_delivery(body, TEST_SIGN_SECRET)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let id = BatchId::of(body);
    assert_eq!(
        server.keys("no-raw-bad-vin").await,
        [format!("raw/date=2026-12-03/{id}.json"), format!("vin=VIN1/date=2023-02-14/{id}.jsonl")]
    );
    assert_eq!(server.object("no-raw-bad-vin", &format!("raw/date=2026-12-03/{id}.json")).await.body, body);
}

#[tokio::test]
async fn retried_delivery_rewrites_the_same_keys_with_the_same_bytes() {
    let server = S3Server::start();
    let receiver = receiver(&server, "retry", &[]).await;
    let first = receiver.handle(signed_delivery(TWO_VINS, TEST_SIGN_SECRET)).await;
    let keys = server.keys("retry").await;
    let mut before = Vec::new();
    for key in &keys {
        before.push(server.object("retry", key).await.body);
    }
    let retry = receiver.handle(signed_delivery(TWO_VINS, TEST_SIGN_SECRET)).await;
    assert_eq!(response_json(&first), response_json(&retry));
    assert_eq!(server.keys("retry").await, keys);
    for (key, bytes) in keys.iter().zip(before) {
        assert_eq!(server.object("retry", key).await.body, bytes, "{key}");
    }
}

#[tokio::test]
async fn delivery_signed_with_the_previous_secret_is_stored_during_rotation() {
    let server = S3Server::start();
    let receiver = receiver(&server, "rotation", &[("SIGN_SECRET_PREVIOUS", "the-old-secret")]).await;
    let response = receiver.handle(signed_delivery(TWO_VINS, "the-old-secret")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(server.keys("rotation").await.len(), 3);
}

#[tokio::test]
async fn unsigned_or_wrongly_signed_deliveries_store_nothing_and_get_one_identical_403() {
    let server = S3Server::start();
    let receiver = receiver(&server, "forbidden", &[]).await;
    let right = signature_for(TWO_VINS, TEST_SIGN_SECRET);
    let cases: Vec<(&str, Vec<(&str, String)>)> = vec![
        ("no header", vec![]),
        ("empty header", vec![("x-signature", String::new())]),
        ("another secret", vec![("x-signature", signature_for(TWO_VINS, "wrong"))]),
        ("truncated", vec![("x-signature", right[..63].to_owned())]),
        ("not hex", vec![("x-signature", "g".repeat(64))]),
        ("other header name", vec![("x-signature-256", right.clone())]),
    ];
    for (case, headers) in cases {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(name, value)| (*name, value.as_str())).collect();
        let response = receiver.handle(http_api_request("POST", "/webhook", &headers, TWO_VINS)).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{case}");
        assert_eq!(response_json(&response), json!({"status": "error", "message": "invalid signature"}), "{case}");
    }
    assert!(server.keys("forbidden").await.is_empty());
}

#[tokio::test]
async fn signature_header_name_is_case_insensitive_and_value_tolerates_prefix_case_and_whitespace() {
    let server = S3Server::start();
    let receiver = receiver(&server, "header-forms", &[]).await;
    let right = signature_for(TWO_VINS, TEST_SIGN_SECRET);
    for value in [right.to_uppercase(), format!("sha256={right}"), format!("  {right}  ")] {
        for name in ["X-Signature", "x-signature", "X-SIGNATURE"] {
            let response = receiver.handle(http_api_request("POST", "/webhook", &[(name, &value)], TWO_VINS)).await;
            assert_eq!(response.status(), StatusCode::OK, "{name}: {value:?}");
        }
    }
}

#[tokio::test]
async fn unknown_path_is_404_and_wrong_method_is_405_both_as_json() {
    let server = S3Server::start();
    let receiver = receiver(&server, "routes", &[]).await;
    let response = receiver.handle(http_api_request("POST", "/hooks", &[], b"{}")).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(response_json(&response), json!({"status": "error", "message": "not found"}));
    let response = receiver.handle(http_api_request("GET", "/webhook", &[], b"")).await;
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(response.headers()["allow"], "POST");
    assert_eq!(response_json(&response), json!({"status": "error", "message": "method not allowed"}));
    assert!(server.keys("routes").await.is_empty());
}

#[tokio::test]
async fn invalid_utf8_body_that_is_signed_is_kept_raw_byte_for_byte() {
    let server = S3Server::start();
    let receiver = receiver(&server, "binary", &[]).await;
    let body = b"\xff\xfe{\"VIN1\": []}\x00";
    let response = receiver.handle(signed_delivery(body, TEST_SIGN_SECRET)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let key = format!("raw/date=2026-12-03/{}.json", BatchId::of(body));
    assert_eq!(server.keys("binary").await, std::slice::from_ref(&key));
    assert_eq!(server.object("binary", &key).await.body, body);
}

#[tokio::test]
async fn many_vins_are_all_written_concurrently() {
    let server = S3Server::start();
    let receiver = receiver(&server, "many", &[("RAW_ARCHIVE", "false")]).await;
    let entries: Vec<String> =
        (0..60).map(|n| format!("\"VIN{n:03}\":[{{\"date_time\":\"2023-02-14 10:00:00\",\"n\":{n}}}]")).collect();
    let body = format!("{{{}}}", entries.join(","));
    let response = receiver.handle(signed_delivery(body.as_bytes(), TEST_SIGN_SECRET)).await;
    assert_eq!(response_json(&response)["objects"], 60);
    let keys = server.keys("many").await;
    assert_eq!(keys.len(), 60);
    let id = BatchId::of(body.as_bytes());
    for n in [0, 31, 59] {
        let object = server.object("many", &format!("vin=VIN{n:03}/date=2023-02-14/{id}.jsonl")).await;
        assert_eq!(object.text(), format!("{{\"date_time\":\"2023-02-14 10:00:00\",\"n\":{n}}}\n"));
    }
}

#[tokio::test]
async fn store_down_answers_500_without_details_and_the_retry_after_restart_stores_the_batch() {
    let mut server = S3Server::start();
    let receiver = receiver(&server, "outage", &[]).await;
    server.stop();
    let response = receiver.handle(signed_delivery(TWO_VINS, TEST_SIGN_SECRET)).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(response_json(&response), json!({"status": "error", "message": "storage unavailable"}));
    server.restart();
    let retry = receiver.handle(signed_delivery(TWO_VINS, TEST_SIGN_SECRET)).await;
    assert_eq!(retry.status(), StatusCode::OK);
    assert_eq!(server.keys("outage").await.len(), 3);
}

#[tokio::test]
async fn store_that_refuses_our_credentials_answers_500() {
    let server = S3Server::start();
    server.create_bucket("locked").await;
    let config = config_for("locked", &[]);
    let wrong_credentials = server.sdk_config_with_wrong_secret_key();
    let receiver =
        Receiver::new(&config, support::verifier_for(&config), S3Store::with_sdk_config(&wrong_credentials, &config));
    let response = receiver.handle(signed_delivery(TWO_VINS, TEST_SIGN_SECRET)).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(server.keys("locked").await.is_empty());
}

#[tokio::test]
async fn http_api_stage_name_in_the_path_is_not_part_of_the_route() {
    let server = S3Server::start();
    let receiver = receiver(&server, "staged", &[]).await;
    let signature = signature_for(TWO_VINS, TEST_SIGN_SECRET);
    let delivery = http_api_request_in_stage("Prod", "POST", "/Prod/webhook", &[("x-signature", &signature)], TWO_VINS);
    assert_eq!(receiver.handle(delivery).await.status(), StatusCode::OK);
    let health = http_api_request_in_stage("Prod", "GET", "/Prod/", &[], b"");
    assert_eq!(response_json(&receiver.handle(health).await), json!({"status": "success"}));
    assert_eq!(server.keys("staged").await.len(), 3);
}
