//! Handler CPU per request, with the storage seam answering at once, beside the floor: one HMAC-SHA256 over the
//! body and one serde_json pass that splits it by VIN into raw records and reads each record's `date_time`.
//! Also the decoding of the HTTP API event that carries the body, by lambda_http's decoder and by the function's.

use std::borrow::Cow;
use std::hint::black_box;

use bytes::Bytes;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use hmac::{Hmac, Mac};
use lambda_http::http::Method;
use lambda_http::{Body, Request};
use mobway_receiver::config::Config;
use mobway_receiver::config::SecretSource;
use mobway_receiver::delivery::StoredObject;
use mobway_receiver::event::ApiGatewayEvent;
use mobway_receiver::handler::Receiver;
use mobway_receiver::signature::{SigningSecret, sign};
use mobway_receiver::storage::{ObjectStore, StorageError};
use mobway_receiver_bench::{SIZES, payload};
use serde::Deserialize;
use serde_json::value::RawValue;
use sha2::Sha256;

const SECRET: &str = "bench-secret";

/// A store that accepts every object at once, so only the receiver's own work is measured.
struct InstantStore;

impl ObjectStore for InstantStore {
    async fn put(&self, object: StoredObject) -> Result<(), StorageError> {
        black_box(object);
        Ok(())
    }
}

fn request(body: &str, signature: &str) -> Request {
    let mut request = Request::new(Body::Text(body.to_owned()));
    *request.method_mut() = Method::POST;
    *request.uri_mut() = "/webhook".parse().expect("uri");
    request.headers_mut().insert("x-signature", signature.parse().expect("header"));
    request
}

/// The HTTP API (payload 2.0) event in which API Gateway passes a delivery to the function.
fn http_api_event(body: &str, signature: &str) -> String {
    serde_json::json!({
        "version": "2.0", "routeKey": "POST /webhook", "rawPath": "/webhook", "rawQueryString": "",
        "headers": {"content-type": "application/json", "x-signature": signature, "user-agent": "python-requests/2.31"},
        "requestContext": {"accountId": "123456789012", "apiId": "abcdef1234", "requestId": "bench",
                           "http": {"method": "POST", "path": "/webhook", "protocol": "HTTP/1.1",
                                    "sourceIp": "203.0.113.10", "userAgent": "python-requests/2.31"},
                           "routeKey": "POST /webhook", "stage": "$default", "timeEpoch": 1796385600000u64},
        "body": body, "isBase64Encoded": false
    })
    .to_string()
}

/// The floor: what any receiver must do to verify and split a batch.
fn floor(body: &[u8], signature: &[u8; 32]) -> usize {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(SECRET.as_bytes()).expect("any key length");
    mac.update(body);
    mac.verify_slice(signature).expect("signed");
    #[derive(Deserialize)]
    struct Dated<'a> {
        #[serde(borrow)]
        date_time: Cow<'a, str>,
    }
    let by_vin: Vec<(Cow<str>, Vec<&RawValue>)> =
        serde_json::from_slice::<std::collections::BTreeMap<Cow<str>, Vec<&RawValue>>>(body)
            .expect("JSON")
            .into_iter()
            .collect();
    let mut dates = 0;
    for (_, records) in &by_vin {
        for record in records {
            let dated: Dated = serde_json::from_str(record.get()).expect("record");
            dates += dated.date_time.len();
        }
    }
    dates
}

fn benchmarks(c: &mut Criterion) {
    // The allocator settings the function runs with, so that the handler's buffers are reused as they are there.
    mobway_receiver::allocator::keep_freed_memory_for_the_next_delivery();
    let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    let config = Config::from_lookup(|name| match name {
        "BUCKET_NAME" => Some("bench".into()),
        "SIGN_SECRET" => Some(SECRET.into()),
        _ => None,
    })
    .expect("config");
    let SecretSource::Environment(verifier) = config.secrets.clone() else { unreachable!("environment secret") };
    let receiver = Receiver::new(&config, verifier, InstantStore);
    let secret = SigningSecret::new(SECRET).expect("secret");

    for (label, vins, records) in SIZES {
        let body = payload(vins, records);
        let signature = sign(&secret, body.as_bytes());
        let mut tag = [0u8; 32];
        mobway_receiver::signature::parse_signature_header(signature.as_bytes()).map(|t| tag = t).expect("tag");
        let mut group = c.benchmark_group(format!("{label} ({} bytes)", body.len()));
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_function("handler", |b| {
            b.iter_batched(
                || request(&body, &signature),
                |request| {
                    let (response, summary) = runtime.block_on(receiver.process(request));
                    assert_eq!(response.status(), 200);
                    black_box(config.telemetry.emf_line(&summary, 0))
                },
                BatchSize::SmallInput,
            )
        });
        group.bench_function("floor", |b| {
            let bytes = Bytes::from(body.clone());
            b.iter(|| black_box(floor(black_box(&bytes), &tag)))
        });
        let event = http_api_event(&body, &signature);
        group.bench_function("event decode, lambda_http", |b| {
            b.iter(|| black_box(lambda_http::request::from_str(black_box(&event)).expect("event")))
        });
        group.bench_function("event decode, ApiGatewayEvent", |b| {
            b.iter(|| {
                let event: ApiGatewayEvent = serde_json::from_str(black_box(&event)).expect("event");
                black_box(Request::from(event))
            })
        });
        group.finish();
    }
}

criterion_group!(handler, benchmarks);
criterion_main!(handler);
