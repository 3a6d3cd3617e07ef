//! End to end: the function under `cargo lambda watch`, signed deliveries over HTTP like mobway's,
//! and the objects read back from a real S3-compatible store.

mod support;

use std::process::Command;

use mobway_receiver::keys::BatchId;
use serde_json::json;
use support::{LambdaWatch, S3Server, TEST_SIGN_SECRET, post, repo_root, signature_for};

fn function_env(server: &S3Server, bucket: &str) -> Vec<(&'static str, String)> {
    vec![
        ("BUCKET_NAME", bucket.to_owned()),
        ("SIGN_SECRET", TEST_SIGN_SECRET.to_owned()),
        ("AWS_ENDPOINT_URL_S3", server.endpoint()),
        ("AWS_ACCESS_KEY_ID", support::ACCESS_KEY.to_owned()),
        ("AWS_SECRET_ACCESS_KEY", support::SECRET_KEY.to_owned()),
        ("AWS_REGION", "us-east-1".to_owned()),
        ("KEY_PREFIX", "e2e/".to_owned()),
    ]
}

/// A fresh store with one bucket, and the function under `cargo lambda watch` writing to it.
async fn function_with_bucket(bucket: &str, extra_env: &[(&'static str, String)]) -> (S3Server, LambdaWatch) {
    let server = S3Server::start();
    server.create_bucket(bucket).await;
    let mut env = function_env(&server, bucket);
    env.extend_from_slice(extra_env);
    let watch = LambdaWatch::start(&env);
    (server, watch)
}

async fn objects(server: &S3Server, bucket: &str) -> Vec<(String, Vec<u8>)> {
    let mut objects = Vec::new();
    for key in server.keys(bucket).await {
        let body = server.object(bucket, &key).await.body;
        objects.push((key, body));
    }
    objects
}

#[tokio::test(flavor = "multi_thread")]
async fn signed_deliveries_over_http_are_stored_once_and_unsigned_ones_not_at_all() {
    let (server, watch) = function_with_bucket("e2e", &[]).await;
    let webhook = watch.url("/webhook");

    // The provider stand-in signs and sends the sample, as mobway would.
    let sample_path = repo_root().join("events/payloads/provider-sample.json");
    let sent = Command::new("python3")
        .arg(repo_root().join("scripts/mobway_send.py"))
        .args(["--url", &webhook, "--secret", TEST_SIGN_SECRET])
        .arg(&sample_path)
        .output()
        .expect("python3 runs the provider stand-in");
    let answer = String::from_utf8_lossy(&sent.stdout);
    assert!(sent.status.success(), "stand-in failed: {answer} {}", String::from_utf8_lossy(&sent.stderr));
    let sample = std::fs::read(&sample_path).expect("sample payload");
    let sample_id = BatchId::of(&sample);
    assert!(answer.starts_with("200 ") && answer.contains(sample_id.as_str()), "{answer}");

    let multi_vin = std::fs::read(repo_root().join("events/payloads/multi-vin.json")).expect("payload");
    let (status, body) = post(&webhook, &multi_vin, Some(&signature_for(&multi_vin, TEST_SIGN_SECRET)));
    assert_eq!(status, 200);
    assert_eq!(body["records"], 5);
    assert_eq!(body["objects"], 6);
    let stored = objects(&server, "e2e").await;
    assert_eq!(stored.len(), 2 + 6, "{:?}", stored.iter().map(|(key, _)| key).collect::<Vec<_>>());
    assert!(stored.iter().all(|(key, _)| key.starts_with("e2e/")));

    // mobway retries when it misses our answer: the retry changes nothing in the bucket.
    let (status, retry_body) = post(&webhook, &multi_vin, Some(&signature_for(&multi_vin, TEST_SIGN_SECRET)));
    assert_eq!((status, &retry_body), (200, &body));
    assert_eq!(objects(&server, "e2e").await, stored);

    // Wrongly signed, unsigned and tampered deliveries are refused alike and store nothing.
    let tampered = String::from_utf8(multi_vin.clone()).expect("utf-8").replace("88.10", "18.10");
    let attempts: [(&[u8], Option<String>); 3] = [
        (b"{\"INTRUDER1\":[{\"date_time\":\"2023-02-14 10:00:00\"}]}", Some(signature_for(b"{}", "guessed-secret"))),
        (b"{\"INTRUDER1\":[{\"date_time\":\"2023-02-14 10:00:00\"}]}", None),
        (tampered.as_bytes(), Some(signature_for(&multi_vin, TEST_SIGN_SECRET))),
    ];
    for (payload, signature) in attempts {
        let (status, body) = post(&webhook, payload, signature.as_deref());
        assert_eq!((status, body), (403, json!({"status": "error", "message": "invalid signature"})));
    }
    assert_eq!(objects(&server, "e2e").await, stored);

    let log = watch.log_text();
    assert!(!log.contains(TEST_SIGN_SECRET), "the secret must never be logged");
}

#[tokio::test(flavor = "multi_thread")]
async fn store_outage_answers_500_and_the_retry_after_restart_stores_the_batch() {
    let (mut server, watch) = function_with_bucket("outage", &[]).await;
    let webhook = watch.url("/webhook");
    let payload = std::fs::read(repo_root().join("events/payloads/multi-vin.json")).expect("payload");
    let signature = signature_for(&payload, TEST_SIGN_SECRET);

    server.stop();
    let (status, body) = post(&webhook, &payload, Some(&signature));
    assert_eq!((status, body), (500, json!({"status": "error", "message": "storage unavailable"})));

    server.restart();
    let (status, body) = post(&webhook, &payload, Some(&signature));
    assert_eq!(status, 200, "{body}");
    assert_eq!(server.keys("outage").await.len(), 6);
}

#[tokio::test(flavor = "multi_thread")]
async fn every_event_file_is_answered_through_the_lambda_runtime_by_cargo_lambda_invoke() {
    // The store must outlive the requests, so it is bound, not dropped.
    let (_store, watch) = function_with_bucket("invoke", &[]).await;
    let mut files: Vec<_> = std::fs::read_dir(repo_root().join("events"))
        .expect("events/")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    files.sort();
    assert!(files.len() >= 8, "{files:?}");
    for file in files {
        let name = file.file_name().expect("file name").to_string_lossy().into_owned();
        let output = Command::new("cargo")
            .current_dir(repo_root())
            .args(["lambda", "invoke", "-A", "127.0.0.1", "-P", &watch.port().to_string(), "mobway-receiver"])
            .arg("--data-file")
            .arg(&file)
            .output()
            .expect("cargo lambda invoke runs");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "{name}: {stdout} {}", String::from_utf8_lossy(&output.stderr));
        let answer: serde_json::Value = serde_json::from_str(&stdout).unwrap_or_else(|_| panic!("{name}: {stdout}"));
        let expected = if name.contains("-signature") { 403 } else { 200 };
        assert_eq!(answer["statusCode"], expected, "{name}: {answer}");
        let body: serde_json::Value =
            serde_json::from_str(answer["body"].as_str().expect("body is a string")).expect("body is JSON");
        let status = if expected == 200 { "success" } else { "error" };
        assert_eq!(body["status"], status, "{name}");
    }
}

/// Checks one EMF document against the Embedded Metric Format specification; returns its metric names.
fn assert_valid_emf(document: &serde_json::Value) -> Vec<String> {
    const UNITS: &[&str] = &[
        "Seconds",
        "Microseconds",
        "Milliseconds",
        "Bytes",
        "Kilobytes",
        "Megabytes",
        "Gigabytes",
        "Terabytes",
        "Bits",
        "Kilobits",
        "Megabits",
        "Gigabits",
        "Terabits",
        "Percent",
        "Count",
        "Bytes/Second",
        "Kilobytes/Second",
        "Megabytes/Second",
        "Gigabytes/Second",
        "Terabytes/Second",
        "Bits/Second",
        "Kilobits/Second",
        "Megabits/Second",
        "Gigabits/Second",
        "Terabits/Second",
        "Count/Second",
        "None",
    ];
    let root = document.as_object().expect("an EMF document is a JSON object");
    let metadata = root["_aws"].as_object().expect("_aws is an object");
    assert!(metadata["Timestamp"].as_u64().is_some_and(|ms| ms > 1_600_000_000_000), "Timestamp in epoch ms");
    let directives = metadata["CloudWatchMetrics"].as_array().expect("CloudWatchMetrics is an array");
    assert!(!directives.is_empty());
    let mut names = Vec::new();
    for directive in directives {
        let namespace = directive["Namespace"].as_str().expect("Namespace is a string");
        assert!((1..=255).contains(&namespace.len()));
        for dimension_set in directive["Dimensions"].as_array().expect("Dimensions is an array") {
            let keys = dimension_set.as_array().expect("a dimension set is an array");
            assert!(keys.len() <= 30);
            for key in keys {
                let key = key.as_str().expect("dimension keys are strings");
                assert!(root.get(key).is_some_and(|value| value.is_string()), "dimension {key} has a string value");
            }
        }
        let metrics = directive["Metrics"].as_array().expect("Metrics is an array");
        assert!(!metrics.is_empty() && metrics.len() <= 100);
        for metric in metrics {
            let name = metric["Name"].as_str().expect("metric Name is a string");
            let unit = metric["Unit"].as_str().expect("metric Unit is a string");
            assert!(UNITS.contains(&unit), "{name} has unit {unit}");
            assert!(root.get(name).is_some_and(|value| value.is_number()), "{name} has a numeric value");
            names.push(name.to_owned());
        }
    }
    names
}

#[tokio::test(flavor = "multi_thread")]
async fn json_logs_and_emf_metrics_describe_stored_rejected_and_failed_deliveries() {
    let json_logs =
        [("AWS_LAMBDA_LOG_FORMAT", "JSON".to_owned()), ("METRICS_NAMESPACE", "MobwayReceiverTests".to_owned())];
    let (mut server, watch) = function_with_bucket("logs", &json_logs).await;
    let webhook = watch.url("/webhook");
    let payload = std::fs::read(repo_root().join("events/payloads/multi-vin.json")).expect("payload");
    let signature = signature_for(&payload, TEST_SIGN_SECRET);

    assert_eq!(post(&webhook, &payload, Some(&signature)).0, 200);
    assert_eq!(post(&webhook, &payload, Some(&signature_for(&payload, "wrong-secret"))).0, 403);
    server.stop();
    assert_eq!(post(&webhook, &payload, Some(&signature)).0, 500);

    let log = watch.log_text();
    let documents: Vec<serde_json::Value> =
        log.lines().filter_map(|line| serde_json::from_str::<serde_json::Value>(line.trim()).ok()).collect();

    let emf: Vec<&serde_json::Value> = documents.iter().filter(|doc| doc.get("_aws").is_some()).collect();
    let outcomes: Vec<&str> = emf.iter().map(|doc| doc["outcome"].as_str().expect("outcome")).collect();
    assert_eq!(outcomes, ["stored", "rejected", "failed"], "one EMF line per delivery");
    let expected_names: Vec<&str> = mobway_receiver::telemetry::Metric::ALL.map(|m| m.name()).to_vec();
    for document in &emf {
        assert_eq!(assert_valid_emf(document), expected_names);
        assert_eq!(document["_aws"]["CloudWatchMetrics"][0]["Namespace"], "MobwayReceiverTests");
        assert_eq!(document["FunctionName"], "mobway-receiver");
    }
    assert_eq!((emf[0]["DeliveriesStored"].as_f64(), emf[0]["RecordsStored"].as_f64()), (Some(1.0), Some(5.0)));
    assert_eq!(emf[0]["ObjectsWritten"].as_f64(), Some(6.0));
    assert_eq!(emf[1]["SignaturesRejected"].as_f64(), Some(1.0));
    assert_eq!(emf[2]["StorageFailures"].as_f64(), Some(1.0));

    let summaries: Vec<&serde_json::Value> =
        documents.iter().filter(|doc| doc["fields"]["message"] == "request summary").collect();
    let delivery_summaries: Vec<&&serde_json::Value> =
        summaries.iter().filter(|doc| doc["fields"]["outcome"] != "health").collect();
    assert_eq!(delivery_summaries.len(), 3, "{log}");
    for summary in &summaries {
        assert_eq!(summary["level"], "INFO");
        let request_id = summary["span"]["requestId"].as_str().unwrap_or_default();
        assert!(!request_id.is_empty(), "every summary carries the Lambda request id: {summary}");
        for field in [
            "outcome",
            "batch_id",
            "vins",
            "records",
            "objects",
            "bytes_received",
            "records_unpartitioned",
            "duration_ms",
        ] {
            assert!(summary["fields"].get(field).is_some(), "{field} missing from {summary}");
        }
    }
    let stored = delivery_summaries[0];
    assert_eq!(stored["fields"]["outcome"], "stored");
    assert_eq!(stored["fields"]["batch_id"], BatchId::of(&payload).as_str());
    assert_eq!((stored["fields"]["vins"].as_u64(), stored["fields"]["records"].as_u64()), (Some(3), Some(5)));
    assert_eq!(stored["fields"]["bytes_received"].as_u64(), Some(payload.len() as u64));

    let rejected_warning = documents
        .iter()
        .find(|doc| doc["level"] == "WARN" && doc["fields"]["message"] == "signature refused")
        .expect("a warning for the rejected signature");
    assert_eq!(rejected_warning["fields"]["cause"], "signature does not match the body");
    let failure = documents.iter().find(|doc| doc["level"] == "ERROR").expect("an error line for the failure");
    assert!(failure["fields"]["key"].as_str().is_some_and(|key| key.starts_with("e2e/")), "{failure}");
    assert!(failure["fields"]["cause"].as_str().is_some_and(|cause| !cause.is_empty()), "{failure}");

    // Keys (and so VINs) may be logged; record values and the secret never.
    for secret_or_payload in [TEST_SIGN_SECRET, "tyre pressure low", "56.073055", "ignition on"] {
        assert!(!log.contains(secret_or_payload), "the log must not contain {secret_or_payload:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn fifty_concurrent_signed_deliveries_are_all_stored_once() {
    let (server, watch) = function_with_bucket("concurrent", &[]).await;
    let webhook = watch.url("/webhook");
    let payloads: Vec<Vec<u8>> = (0..50)
        .map(|n| format!(r#"{{"CONC{n:02}":[{{"date_time":"2023-02-14 10:00:00","n":{n}}}]}}"#).into_bytes())
        .collect();
    let senders: Vec<_> = payloads
        .iter()
        .cloned()
        .map(|payload| {
            let webhook = webhook.clone();
            std::thread::spawn(move || post(&webhook, &payload, Some(&signature_for(&payload, TEST_SIGN_SECRET))).0)
        })
        .collect();
    let statuses: Vec<u16> = senders.into_iter().map(|sender| sender.join().expect("sender thread")).collect();
    assert!(statuses.iter().all(|status| *status == 200), "{statuses:?}");

    let keys = server.keys("concurrent").await;
    assert_eq!(keys.len(), 100, "one partition and one raw object per delivery");
    for (n, payload) in payloads.iter().enumerate() {
        let key = format!("e2e/vin=CONC{n:02}/date=2023-02-14/{}.jsonl", BatchId::of(payload));
        let object = server.object("concurrent", &key).await;
        assert_eq!(object.text().lines().count(), 1, "{key}");
    }
}
