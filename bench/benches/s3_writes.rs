//! CPU time of one delivery's S3 writes, in this process, against s3s-fs on 127.0.0.1: the function's store as it
//! ships (bodies not hashed into the SigV4 signature) beside the SDK's default (every body hashed), so that
//! BENCHMARKS.md can say what skipping payload signing saves. The writes are the objects the function plans for each
//! payload; s3s-fs runs as its own process, so its work is not counted.
//!
//! `cargo bench -p mobway-receiver-bench --bench s3_writes [-- --seconds S --rounds N]`; needs s3s-fs (`make setup`).

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_s3::config::{Credentials, SharedCredentialsProvider};
use bytes::Bytes;
use mobway_receiver::config::Config;
use mobway_receiver::delivery::{DeliveryPlan, StoredObject};
use mobway_receiver::s3::{PayloadSigning, S3Store};
use mobway_receiver::storage::store_all;
use mobway_receiver_bench::{SIZES, payload};

const ACCESS_KEY: &str = "bench";
const SECRET_KEY: &str = "bench-secret-key";
const BUCKET: &str = "bench";
const INSTALL: &str = "cargo install --locked s3s-fs@0.14.1 --features binary";

/// s3s-fs on a free port of 127.0.0.1, with its data in memory where the machine has /dev/shm; stopped on drop.
struct Store {
    process: Child,
    port: u16,
    data: PathBuf,
}

impl Store {
    fn start() -> Self {
        let port =
            TcpListener::bind("127.0.0.1:0").and_then(|listener| listener.local_addr()).expect("a free port").port();
        let base =
            if std::path::Path::new("/dev/shm").is_dir() { PathBuf::from("/dev/shm") } else { std::env::temp_dir() };
        let data = base.join(format!("mobway-s3-writes-{}", std::process::id()));
        std::fs::create_dir_all(data.join(BUCKET)).expect("the store's data folder");
        let process = Command::new("s3s-fs")
            .args(["--host", "127.0.0.1", "--port", &port.to_string(), "--access-key", ACCESS_KEY])
            .args(["--secret-key", SECRET_KEY])
            .arg(&data)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| {
                panic!("s3s-fs could not start ({error}); install it with `make setup` or `{INSTALL}`")
            });
        let store = Self { process, port, data };
        let started = Instant::now();
        while TcpStream::connect(SocketAddr::from(([127, 0, 0, 1], port))).is_err() {
            assert!(started.elapsed() < Duration::from_secs(10), "s3s-fs did not listen on 127.0.0.1:{port}");
            std::thread::sleep(Duration::from_millis(20));
        }
        store
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
        let _ = std::fs::remove_dir_all(&self.data);
    }
}

/// CPU time this process has used, user and system, from `getrusage`.
fn process_cpu_time() -> Duration {
    // SAFETY: getrusage only writes the struct it is given.
    let usage = unsafe {
        let mut usage = std::mem::zeroed::<libc::rusage>();
        assert_eq!(libc::getrusage(libc::RUSAGE_SELF, &mut usage), 0, "getrusage");
        usage
    };
    let micros = |time: libc::timeval| time.tv_sec as u64 * 1_000_000 + time.tv_usec as u64;
    Duration::from_micros(micros(usage.ru_utime) + micros(usage.ru_stime))
}

/// Writes the delivery's objects again and again for `seconds`; returns CPU milliseconds per delivery.
async fn cpu_per_delivery(store: &S3Store, objects: &[StoredObject], seconds: f64) -> f64 {
    let (started, cpu_before) = (Instant::now(), process_cpu_time());
    let mut deliveries = 0u32;
    while started.elapsed().as_secs_f64() < seconds {
        store_all(store, objects.to_vec()).await.expect("every write succeeds");
        deliveries += 1;
    }
    (process_cpu_time() - cpu_before).as_secs_f64() * 1000.0 / f64::from(deliveries)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// `--seconds S` (per round, payload and variant; default 2) and `--rounds N` (default 5); other arguments, such
/// as the `--bench` that cargo passes, are ignored.
fn options() -> (f64, usize) {
    let args: Vec<String> = std::env::args().collect();
    let value = |name: &str| args.iter().position(|arg| arg == name).and_then(|at| args.get(at + 1));
    let seconds = value("--seconds").map(|text| text.parse().expect("--seconds takes a number")).unwrap_or(2.0);
    let rounds = value("--rounds").map(|text| text.parse().expect("--rounds takes a count")).unwrap_or(5);
    (seconds, rounds)
}

fn main() {
    let (seconds, rounds) = options();
    let store_server = Store::start();
    let endpoint = format!("http://127.0.0.1:{}", store_server.port);
    let config = Config::from_lookup(|name| match name {
        "BUCKET_NAME" => Some(BUCKET.into()),
        "SIGN_SECRET" => Some("bench-secret".into()),
        "AWS_ENDPOINT_URL_S3" => Some(endpoint.clone()),
        _ => None,
    })
    .expect("configuration");
    let shared = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            ACCESS_KEY, SECRET_KEY, None, None, "bench",
        )))
        .build();
    let skipped = S3Store::with_sdk_config(&shared, &config);
    let signed = skipped.clone().with_payload_signing(PayloadSigning::Signed);
    // The function's own runtime: one thread, which also drives the client's connections.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");

    println!("{rounds} rounds of {seconds} s per payload and variant, alternating; medians of the rounds.\n");
    println!(
        "| payload | objects | bytes written | payload not signed (as shipped), CPU ms | payload signed, CPU ms | signed / not signed |"
    );
    println!("| --- | --- | --- | --- | --- | --- |");
    for (label, vins, records) in SIZES {
        let body = Bytes::from(payload(vins, records));
        let plan = DeliveryPlan::new(body, "bench-signature", time::OffsetDateTime::now_utc(), &config.layout);
        let bytes: usize = plan.objects.iter().map(|object| object.body.len()).sum();
        runtime.block_on(async {
            // One warm-up delivery each, so that connections are open before anything is measured.
            for store in [&skipped, &signed] {
                store_all(store, plan.objects.clone()).await.expect("every write succeeds");
            }
            let (mut without, mut with) = (Vec::new(), Vec::new());
            for _ in 0..rounds {
                without.push(cpu_per_delivery(&skipped, &plan.objects, seconds).await);
                with.push(cpu_per_delivery(&signed, &plan.objects, seconds).await);
            }
            let (without, with) = (median(without), median(with));
            println!(
                "| {label} | {} | {bytes} | {without:.3} | {with:.3} | {:.2} |",
                plan.objects.len(),
                with / without
            );
        });
    }
}
