//! Hostile and malformed deliveries, table-driven, through the handler with a real S3-compatible store behind it.
//! For each case: the status the contract gives, no panic, nothing stored for a refused delivery, and every
//! authenticated byte findable in the bucket (the raw object is the body byte for byte; partition lines are the
//! records, each under the key its VIN and UTC date give).

mod support;

use lambda_http::http::StatusCode;
use mobway_receiver::handler::Receiver;
use mobway_receiver::keys::BatchId;
use serde_json::json;
use support::{S3Server, TEST_SIGN_SECRET, config_for, http_api_request, signature_for};
use time::OffsetDateTime;
use time::macros::datetime;

fn receipt_time() -> OffsetDateTime {
    datetime!(2026-12-03 12:00:00 UTC)
}

/// How the `X-Signature` header is sent.
enum Header {
    Absent,
    /// The right signature of the case's body, as mobway sends it.
    Right,
    /// Exactly this value.
    Value(String),
    /// Several `X-Signature` headers, as a REST API (payload 1.0) passes them in `multiValueHeaders`.
    Several(Vec<String>),
}

struct Case {
    name: &'static str,
    body: Vec<u8>,
    header: Header,
    status: StatusCode,
    /// Records expected in partition objects (the rest is only in the raw object).
    partitioned: usize,
}

fn ok(name: &'static str, body: impl Into<Vec<u8>>, partitioned: usize) -> Case {
    Case { name, body: body.into(), header: Header::Right, status: StatusCode::OK, partitioned }
}

fn refused(name: &'static str, header: Header) -> Case {
    Case { name, body: SAMPLE.to_vec(), header, status: StatusCode::FORBIDDEN, partitioned: 0 }
}

const SAMPLE: &[u8] = include_bytes!("../events/payloads/provider-sample.json");
const AS_DOCUMENTED: &[u8] = include_bytes!("../events/payloads/provider-sample-as-documented.txt");

fn record(date_time: &str) -> String {
    format!(r#"{{"date_time":"{date_time}","speed":1.5}}"#)
}

fn cases() -> Vec<Case> {
    let right = signature_for(SAMPLE, TEST_SIGN_SECRET);
    let r = record("2023-02-14 10:00:00");
    let ten_thousand_vins =
        format!("{{{}}}", (0..10_000).map(|n| format!("\"VIN{n:05}\":[{r}]")).collect::<Vec<_>>().join(","));
    let six_megabytes = {
        let line = format!(r#"{{"date_time":"2023-02-14 10:00:00","note":"{}"}}"#, "x".repeat(1000));
        let count = 6 * 1024 * 1024 / (line.len() + 1);
        format!("{{\"BIGVIN1\":[{}]}}", vec![line; count].join(","))
    };
    let depth = 10_000;
    let deeply_nested =
        format!(r#"{{"V1":[{{"date_time":"2023-02-14 10:00:00","x":{}{}}}]}}"#, "[".repeat(depth), "]".repeat(depth));
    vec![
        refused("no header", Header::Absent),
        refused("empty header", Header::Value(String::new())),
        // lambda_http keeps only the last of a REST API's repeated headers, which must then be right on its own.
        refused("several headers, the last wrong", Header::Several(vec![right.clone(), "0".repeat(64)])),
        refused("several values joined by API Gateway", Header::Value(format!("{right},{right}"))),
        refused("header of 100 KB", Header::Value("a".repeat(100 * 1024))),
        refused("non-hex", Header::Value("zz".repeat(32))),
        refused("odd length", Header::Value(right[..63].to_owned() + "0a")),
        refused("right signature of another body", Header::Value(signature_for(b"{}", TEST_SIGN_SECRET))),
        refused("signature truncated by one character", Header::Value(right[..63].to_owned())),
        refused("signature with another secret", Header::Value(signature_for(SAMPLE, "guess"))),
        refused("sha1= prefix", Header::Value(format!("sha1={right}"))),
        Case { header: Header::Value(right.to_uppercase()), ..ok("uppercase hex", SAMPLE, 2) },
        Case { header: Header::Value(format!("sha256={right}")), ..ok("sha256= prefix", SAMPLE, 2) },
        ok("empty body", Vec::new(), 0),
        ok("invalid UTF-8", b"\xff\xfe\xfd{\"V1\":[]}".to_vec(), 0),
        ok("not JSON", "vin=V1&speed=12", 0),
        ok("provider sample with None", AS_DOCUMENTED, 0),
        ok("top-level array", format!("[{r}]"), 0),
        ok("VIN mapped to an object", format!(r#"{{"V1":{r},"V2":[{r}]}}"#), 1),
        ok("VIN mapped to a number", r#"{"V1":42}"#, 0),
        ok("VIN with a slash", format!(r#"{{"A/B":[{r}]}}"#), 0),
        ok("VIN of dots", format!(r#"{{"..":[{r}]}}"#), 0),
        ok("VIN with an encoded slash", format!(r#"{{"A%2FB":[{r}]}}"#), 0),
        ok("VIN with a space", format!(r#"{{"A B":[{r}]}}"#), 0),
        ok("VIN in unicode", format!(r#"{{"VÍN1":[{r}]}}"#), 0),
        ok("VIN of 33 characters", format!(r#"{{"{}":[{r}]}}"#, "A".repeat(33)), 0),
        ok("VIN of 32 characters", format!(r#"{{"{}":[{r}]}}"#, "A".repeat(32)), 1),
        ok("duplicate VIN keys", format!(r#"{{"V1":[{r}],"V1":[{r}]}}"#), 2),
        ok("record without date_time", r#"{"V1":[{"speed":1}]}"#, 0),
        ok("impossible date", format!(r#"{{"V1":[{}]}}"#, record("2023-02-30 10:00:00")), 0),
        ok("offset crossing midnight", format!(r#"{{"V1":[{}]}}"#, record("2023-02-14T23:30:00-05:00")), 1),
        ok("record that is not an object", format!(r#"{{"V1":[[1,2],{r}]}}"#), 1),
        ok("10,000 VINs in one batch", ten_thousand_vins, 10_000),
        ok("6 MB body", six_megabytes.clone(), six_megabytes.matches("date_time").count()),
        ok("JSON nested 10,000 levels deep", deeply_nested, 1),
    ]
}

fn request_for(case: &Case) -> lambda_http::Request {
    let signature;
    let headers: Vec<(&str, &str)> = match &case.header {
        Header::Absent => vec![],
        Header::Right => {
            signature = signature_for(&case.body, TEST_SIGN_SECRET);
            vec![("x-signature", signature.as_str())]
        }
        Header::Value(value) => vec![("x-signature", value.as_str())],
        Header::Several(values) => return rest_request_with_repeated_signatures(&case.body, values),
    };
    http_api_request("POST", "/webhook", &headers, &case.body)
}

fn rest_request_with_repeated_signatures(body: &[u8], values: &[String]) -> lambda_http::Request {
    let event = json!({
        "resource": "/webhook",
        "path": "/webhook",
        "httpMethod": "POST",
        "headers": {"X-Signature": values.last()},
        "multiValueHeaders": {"X-Signature": values},
        "requestContext": {"stage": "Prod", "path": "/Prod/webhook", "httpMethod": "POST", "requestId": "r", "accountId": "1", "resourcePath": "/webhook", "apiId": "a", "identity": {}},
        "body": String::from_utf8_lossy(body),
        "isBase64Encoded": false
    });
    support::decode_event(&event.to_string())
}

/// Whether a key has the contract's shape for this batch.
fn key_is_well_formed(key: &str, batch: &BatchId) -> bool {
    let raw = format!("raw/date=2026-12-03/{batch}.json");
    let Some(rest) = key.strip_prefix("vin=") else { return key == raw };
    let Some((vin, rest)) = rest.split_once("/date=") else { return false };
    let Some((date, file)) = rest.split_once('/') else { return false };
    (1..=32).contains(&vin.len())
        && vin.bytes().all(|b| b.is_ascii_alphanumeric())
        && date.len() == 10
        && date.bytes().enumerate().all(|(i, b)| if i == 4 || i == 7 { b == b'-' } else { b.is_ascii_digit() })
        && file == format!("{batch}.jsonl")
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_deliveries_get_the_contract_status_and_lose_no_authenticated_byte() {
    let server = S3Server::start();
    for (n, case) in cases().into_iter().enumerate() {
        let bucket = format!("hostile-{n}");
        let config = config_for(&bucket, &[]);
        let receiver =
            Receiver::new(&config, support::verifier_for(&config), server.store_for_new_bucket(&bucket, &config).await)
                .with_clock(receipt_time);
        let started = std::time::Instant::now();
        let response = receiver.handle(request_for(&case)).await;
        let name = case.name;
        eprintln!("{name}: answered in {:?}", started.elapsed());
        assert_eq!(response.status(), case.status, "{name}");
        let keys = server.keys(&bucket).await;
        if case.status == StatusCode::FORBIDDEN {
            let lambda_http::Body::Text(text) = response.body() else { panic!("{name}: 403 without a text body") };
            assert_eq!(
                text, r#"{"message":"invalid signature","status":"error"}"#,
                "{name}: every 403 is byte-identical"
            );
            assert!(keys.is_empty(), "{name}: a refused delivery stored {keys:?}");
            continue;
        }
        let batch = BatchId::of(&case.body);
        assert!(keys.iter().all(|key| key_is_well_formed(key, &batch)), "{name}: {:?}", &keys[..keys.len().min(5)]);
        let raw = server.object(&bucket, &format!("raw/date=2026-12-03/{batch}.json")).await;
        assert!(raw.body == case.body, "{name}: the raw object must be the body byte for byte");

        let mut partitioned = 0;
        let partition_keys: Vec<&String> = keys.iter().filter(|key| key.ends_with(".jsonl")).collect();
        // Reading 10,000 objects back adds nothing over a sample of them.
        for key in partition_keys.iter().step_by((partition_keys.len() / 50).max(1)) {
            let object = server.object(&bucket, key).await;
            let date = key.split("/date=").nth(1).and_then(|rest| rest.get(..10)).expect("date in key");
            for line in object.text().lines() {
                // Only the date is read: a full `Value` would stop at serde_json's nesting limit.
                #[derive(serde::Deserialize)]
                struct Dated {
                    date_time: String,
                }
                let record: Dated = serde_json::from_str(line).unwrap_or_else(|_| panic!("{name}: line is not JSON"));
                let expected =
                    mobway_receiver::keys::PartitionDate::from_date_time(&record.date_time).expect("usable date");
                assert_eq!(expected.to_string(), date, "{name}: record under the wrong date");
                partitioned += 1;
            }
        }
        if partition_keys.len() <= 50 {
            assert_eq!(partitioned, case.partitioned, "{name}: records in partitions");
        } else {
            assert_eq!(partition_keys.len(), case.partitioned, "{name}: one partition per VIN");
        }
    }
}
