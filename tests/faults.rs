//! Storage faults against the real S3-compatible server: a batch that fails part-way and its retry, a store that
//! hangs, which must be answered with 500 before the function's own timeout, and a body damaged on the way.

mod support;

use std::time::{Duration, Instant};

use lambda_http::http::StatusCode;
use mobway_receiver::handler::Receiver;
use mobway_receiver::keys::BatchId;
use mobway_receiver::s3::{OPERATION_TIMEOUT, PayloadSigning, S3Store};
use sha2::{Digest, Sha256};
use support::fault_proxy::{FaultProxy, unresponsive_listener};
use support::{S3Server, TEST_SIGN_SECRET, config_for, repo_root, response_json, signed_delivery};

fn ten_vins() -> Vec<u8> {
    let entries: Vec<String> =
        (0..10).map(|n| format!(r#""VIN{n:02}":[{{"date_time":"2023-02-14 10:00:0{n}","n":{n}}}]"#)).collect();
    format!("{{{}}}", entries.join(",")).into_bytes()
}

/// s3s-fs with one bucket, a proxy in front of it that passes every request and records its head, and a receiver
/// that writes through the proxy.
async fn receiver_behind_recording_proxy(
    bucket: &str,
    payload_signing: PayloadSigning,
) -> (S3Server, FaultProxy, Receiver<S3Store>) {
    let server = S3Server::start();
    server.create_bucket(bucket).await;
    let proxy = FaultProxy::start(server.port(), usize::MAX).await;
    let config = config_for(bucket, &[]);
    let store = S3Store::with_sdk_config(&server.sdk_config_via(&proxy.endpoint()), &config)
        .with_payload_signing(payload_signing);
    let receiver = Receiver::new(&config, support::verifier_for(&config), store);
    (server, proxy, receiver)
}

/// The function's timeout, as `template.yaml` sets it for every function.
fn template_function_timeout() -> Duration {
    let template = std::fs::read_to_string(repo_root().join("template.yaml")).expect("template.yaml");
    let seconds = template
        .lines()
        .find_map(|line| line.strip_prefix("    Timeout: "))
        .and_then(|value| value.trim().parse().ok())
        .expect("Globals.Function.Timeout in template.yaml");
    Duration::from_secs(seconds)
}

#[tokio::test(flavor = "multi_thread")]
async fn batch_failing_part_way_answers_500_and_its_retry_stores_each_record_once() {
    let server = S3Server::start();
    server.create_bucket("partial").await;
    let proxy = FaultProxy::start(server.port(), 4).await;
    let config = config_for("partial", &[]);
    let receiver = Receiver::new(
        &config,
        support::verifier_for(&config),
        S3Store::with_sdk_config(&server.sdk_config_via(&proxy.endpoint()), &config),
    );
    let body = ten_vins();

    let first = receiver.handle(signed_delivery(&body, TEST_SIGN_SECRET)).await;
    assert_eq!(first.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let written_before_failure = server.keys("partial").await.len();
    assert!(proxy.forwarded() == 4 && written_before_failure == 4, "{written_before_failure} objects before the fault");

    proxy.heal();
    let retry = receiver.handle(signed_delivery(&body, TEST_SIGN_SECRET)).await;
    assert_eq!(retry.status(), StatusCode::OK);
    assert_eq!(response_json(&retry)["objects"], 11);

    let keys = server.keys("partial").await;
    assert_eq!(keys.len(), 11, "{keys:?}");
    let batch = BatchId::of(&body);
    for n in 0..10 {
        let key = format!("vin=VIN{n:02}/date=2023-02-14/{batch}.jsonl");
        let object = server.object("partial", &key).await;
        assert_eq!(object.text(), format!("{{\"date_time\":\"2023-02-14 10:00:0{n}\",\"n\":{n}}}\n"), "{key}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn hanging_store_is_answered_with_500_before_the_function_times_out() {
    let function_timeout = template_function_timeout();
    assert!(OPERATION_TIMEOUT + Duration::from_secs(5) <= function_timeout, "SDK timeouts must leave room to answer");
    let server = S3Server::start();
    let (hanging_port, _listener) = unresponsive_listener().await;
    let config = config_for("hanging", &[]);
    let store = S3Store::with_sdk_config(&server.sdk_config_via(&format!("http://127.0.0.1:{hanging_port}")), &config);
    let receiver = Receiver::new(&config, support::verifier_for(&config), store);

    let started = Instant::now();
    let response = receiver.handle(signed_delivery(&ten_vins(), TEST_SIGN_SECRET)).await;
    let elapsed = started.elapsed();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(elapsed < function_timeout, "answered after {elapsed:?}, the function times out at {function_timeout:?}");
    assert!(
        elapsed >= OPERATION_TIMEOUT - Duration::from_secs(1),
        "gave up after {elapsed:?}, before the operation timeout"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn writes_skip_payload_signing_and_a_body_damaged_on_the_way_is_refused_by_its_checksum() {
    let (server, proxy, receiver) = receiver_behind_recording_proxy("damaged", PayloadSigning::Skipped).await;
    let body = ten_vins();

    proxy.damage_next_bodies(1);
    let first = receiver.handle(signed_delivery(&body, TEST_SIGN_SECRET)).await;
    assert_eq!(first.status(), StatusCode::INTERNAL_SERVER_ERROR, "the store must refuse the damaged object");

    let retry = receiver.handle(signed_delivery(&body, TEST_SIGN_SECRET)).await;
    assert_eq!(retry.status(), StatusCode::OK);
    let batch = BatchId::of(&body);
    for n in 0..10 {
        let key = format!("vin=VIN{n:02}/date=2023-02-14/{batch}.jsonl");
        let object = server.object("damaged", &key).await;
        assert_eq!(object.text(), format!("{{\"date_time\":\"2023-02-14 10:00:0{n}\",\"n\":{n}}}\n"), "{key}");
    }

    let puts: Vec<String> = proxy.request_heads().into_iter().filter(|head| head.starts_with("put ")).collect();
    // The first delivery stops at its first failed write, so some of its writes may never have been sent.
    assert!(puts.len() > 11, "the damaged write and the retry's 11: {}", puts.len());
    for head in &puts {
        assert!(head.contains("\r\nx-amz-content-sha256: unsigned-payload\r\n"), "payload is not hashed: {head}");
        assert!(head.contains("\r\nx-amz-checksum-crc32: "), "the body carries its checksum: {head}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_signed_payload_variant_the_benchmark_compares_hashes_every_body_into_its_signature() {
    let (server, proxy, receiver) = receiver_behind_recording_proxy("signed", PayloadSigning::Signed).await;
    let body = ten_vins();

    let response = receiver.handle(signed_delivery(&body, TEST_SIGN_SECRET)).await;
    assert_eq!(response.status(), StatusCode::OK);

    let mut sent_hashes: Vec<String> = proxy
        .request_heads()
        .iter()
        .filter(|head| head.starts_with("put "))
        .filter_map(|head| head.split("\r\n").find_map(|line| line.strip_prefix("x-amz-content-sha256: ")))
        .map(str::to_owned)
        .collect();
    let mut stored_hashes = Vec::new();
    for key in server.keys("signed").await {
        stored_hashes.push(hex::encode(Sha256::digest(server.object("signed", &key).await.body)));
    }
    sent_hashes.sort();
    stored_hashes.sort();
    assert_eq!(stored_hashes.len(), 11);
    assert_eq!(sent_hashes, stored_hashes, "each PUT is signed with the SHA-256 of the body that was stored");
}
