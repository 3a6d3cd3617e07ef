//! Shared test support: a real S3-compatible server (s3s-fs) on 127.0.0.1, and a client to read the bucket back.
#![allow(dead_code)]

pub mod fault_proxy;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_s3::Client;
use aws_sdk_s3::config::Credentials;
use aws_sdk_s3::config::SharedCredentialsProvider;
use mobway_receiver::config::Config;
use mobway_receiver::event::ApiGatewayEvent;
use mobway_receiver::s3::S3Store;

pub const ACCESS_KEY: &str = "mobway-test-access-key";
pub const SECRET_KEY: &str = "mobway-test-secret-key";
/// The signing secret the files in `events/` are signed with.
pub const TEST_SIGN_SECRET: &str = "mobway-local-test-secret";

const INSTALL_HINT: &str = "s3s-fs 0.14.1 is needed for the storage tests. Install it with\n    \
    cargo install --locked s3s-fs@0.14.1 --features binary\nor run `make test`, which installs it.";

/// The s3s-fs binary: `$S3S_FS` if set, else `s3s-fs` on PATH or in ~/.cargo/bin. Fails loudly when absent.
pub fn s3s_fs_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("S3S_FS") {
        return PathBuf::from(path);
    }
    let candidates = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .chain(std::env::var_os("HOME").map(|home| Path::new(&home).join(".cargo/bin")));
    for dir in candidates {
        let candidate = dir.join("s3s-fs");
        if candidate.is_file() {
            return candidate;
        }
    }
    panic!("{INSTALL_HINT}");
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port on 127.0.0.1");
    listener.local_addr().expect("local address").port()
}

/// Waits until something accepts connections on the address, or panics after `limit`.
pub fn wait_for_listener(address: SocketAddr, limit: Duration, what: &str) {
    let started = Instant::now();
    while TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_err() {
        assert!(started.elapsed() < limit, "{what} did not listen on {address} within {limit:?}");
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// An s3s-fs server on 127.0.0.1 with its own data folder, checking SigV4 with a fixed key pair.
pub struct S3Server {
    process: Option<Child>,
    port: u16,
    root: tempfile::TempDir,
}

impl S3Server {
    pub fn start() -> Self {
        let root = tempfile::tempdir().expect("temporary data folder");
        let mut server = Self { process: None, port: free_port(), root };
        server.restart();
        server
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn data_dir(&self) -> &Path {
        self.root.path()
    }

    /// Stops the server; requests to its endpoint are refused until `restart`.
    pub fn stop(&mut self) {
        if let Some(mut process) = self.process.take() {
            let _ = process.kill();
            let _ = process.wait();
        }
    }

    /// Starts (again) on the same port and data folder.
    pub fn restart(&mut self) {
        self.stop();
        let process = Command::new(s3s_fs_binary())
            .args(["--host", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])
            .arg(self.root.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| panic!("could not start s3s-fs: {error}\n{INSTALL_HINT}"));
        self.process = Some(process);
        let address = SocketAddr::from(([127, 0, 0, 1], self.port));
        wait_for_listener(address, Duration::from_secs(10), "s3s-fs");
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// SDK configuration that reaches this server with the test credentials.
    pub fn sdk_config(&self) -> SdkConfig {
        self.sdk_config_via(&self.endpoint())
    }

    /// SDK configuration with this server's credentials that goes through another endpoint, such as a proxy.
    pub fn sdk_config_via(&self, endpoint: &str) -> SdkConfig {
        sdk_config(endpoint, ACCESS_KEY, SECRET_KEY)
    }

    /// SDK configuration for this server that signs requests with another secret key, which it refuses.
    pub fn sdk_config_with_wrong_secret_key(&self) -> SdkConfig {
        sdk_config(&self.endpoint(), ACCESS_KEY, "not-the-secret-key")
    }

    /// A client for reading the bucket back.
    pub fn client(&self) -> Client {
        let config = aws_sdk_s3::config::Builder::from(&self.sdk_config()).force_path_style(true).build();
        Client::from_conf(config)
    }

    /// Creates a bucket and returns the receiver's store for it, built as in production from a `Config`.
    pub async fn store_for_new_bucket(&self, bucket: &str, config: &Config) -> S3Store {
        self.create_bucket(bucket).await;
        S3Store::with_sdk_config(&self.sdk_config(), config)
    }

    pub async fn create_bucket(&self, bucket: &str) {
        self.client().create_bucket().bucket(bucket).send().await.expect("create bucket");
    }

    /// Every key in a bucket, sorted.
    pub async fn keys(&self, bucket: &str) -> Vec<String> {
        let mut keys = Vec::new();
        let mut pages = self.client().list_objects_v2().bucket(bucket).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.expect("list objects");
            keys.extend(page.contents().iter().filter_map(|object| object.key().map(str::to_owned)));
        }
        keys.sort();
        keys
    }

    /// An object's bytes, content type and user metadata.
    pub async fn object(&self, bucket: &str, key: &str) -> StoredCopy {
        let output = self
            .client()
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .unwrap_or_else(|error| panic!("get {key}: {}", aws_sdk_s3::error::DisplayErrorContext(&error)));
        let content_type = output.content_type().map(str::to_owned);
        let metadata = output.metadata().cloned().unwrap_or_default();
        let body = output.body.collect().await.expect("read object body").into_bytes().to_vec();
        StoredCopy { body, content_type, metadata }
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// SDK settings for a local server: fixed region, static credentials, the given endpoint.
fn sdk_config(endpoint: &str, access_key: &str, secret_key: &str) -> SdkConfig {
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            access_key,
            secret_key,
            None,
            None,
            "mobway-tests",
        )))
        .endpoint_url(endpoint)
        .build()
}

/// An object as read back through the S3 API.
#[derive(Debug)]
pub struct StoredCopy {
    pub body: Vec<u8>,
    pub content_type: Option<String>,
    pub metadata: std::collections::HashMap<String, String>,
}

impl StoredCopy {
    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.body).expect("object is UTF-8")
    }
}

/// Configuration as the function would read it, for a bucket and optional extra variables.
pub fn config_for(bucket: &str, extra: &[(&str, &str)]) -> Config {
    let mut vars = vec![("BUCKET_NAME", bucket), ("SIGN_SECRET", TEST_SIGN_SECRET)];
    vars.extend_from_slice(extra);
    config_from(&vars)
}

/// Configuration as the function would read it from exactly these variables.
pub fn config_from(vars: &[(&str, &str)]) -> Config {
    Config::from_lookup(|name| vars.iter().find(|(key, _)| *key == name).map(|(_, value)| value.to_string()))
        .expect("valid test configuration")
}

/// The repository's root folder.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// An HTTP API (payload 2.0) request as the function decodes it from API Gateway's JSON event.
pub fn http_api_request(method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> lambda_http::Request {
    http_api_request_in_stage("$default", method, path, headers, body)
}

/// Like [`http_api_request`], for an API stage other than `$default`: `path` then starts with `/{stage}`.
pub fn http_api_request_in_stage(
    stage: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> lambda_http::Request {
    let headers: serde_json::Map<String, serde_json::Value> =
        headers.iter().map(|(name, value)| (name.to_string(), serde_json::Value::from(*value))).collect();
    let (body, base64_encoded) = match std::str::from_utf8(body) {
        Ok(text) => (text.to_owned(), false),
        Err(_) => {
            use base64::prelude::{BASE64_STANDARD, Engine as _};
            (BASE64_STANDARD.encode(body), true)
        }
    };
    let event = serde_json::json!({
        "version": "2.0",
        "routeKey": format!("{method} {path}"),
        "rawPath": path,
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abcdef1234",
            "domainName": "abcdef1234.execute-api.eu-west-1.amazonaws.com",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.10", "userAgent": "tests"},
            "requestId": "test-request",
            "routeKey": format!("{method} {path}"),
            "stage": stage,
            "time": "03/Dec/2026:12:00:00 +0000",
            "timeEpoch": 1796385600000u64
        },
        "body": body,
        "isBase64Encoded": base64_encoded
    });
    decode_event(&event.to_string())
}

/// The request the function makes of an API Gateway event's JSON, as `main` decodes it.
pub fn decode_event(json: &str) -> lambda_http::Request {
    let event: ApiGatewayEvent =
        serde_json::from_str(json).unwrap_or_else(|error| panic!("not an API Gateway event: {error}\n{json:.300}"));
    event.into()
}

/// A signed webhook delivery, as mobway sends it.
pub fn signed_delivery(body: &[u8], secret: &str) -> lambda_http::Request {
    let signature = signature_for(body, secret);
    http_api_request("POST", "/webhook", &[("content-type", "application/json"), ("x-signature", &signature)], body)
}

/// The JSON body of a response.
pub fn response_json(response: &lambda_http::Response<lambda_http::Body>) -> serde_json::Value {
    let bytes: &[u8] = match response.body() {
        lambda_http::Body::Text(text) => text.as_bytes(),
        lambda_http::Body::Binary(bytes) => bytes,
        _ => b"",
    };
    serde_json::from_slice(bytes).expect("every answer is JSON")
}

const CARGO_LAMBDA_HINT: &str = "cargo-lambda is needed for the end-to-end tests. Install it with\n    \
    pip install cargo-lambda\nor run `make test`, which installs it.";

/// The function running under `cargo lambda watch` on 127.0.0.1, as `make run` starts it.
pub struct LambdaWatch {
    process: Child,
    port: u16,
    pub log: tempfile::NamedTempFile,
}

impl LambdaWatch {
    /// Starts the function with the given environment and waits until it answers the health check.
    pub fn start(env: &[(&str, String)]) -> Self {
        use std::os::unix::process::CommandExt;
        let port = free_port();
        let log = tempfile::NamedTempFile::new().expect("log file");
        let env_vars: Vec<String> = env.iter().map(|(name, value)| format!("{name}={value}")).collect();
        let mut command = Command::new("cargo");
        command
            .current_dir(repo_root())
            .args(["lambda", "watch", "--ignore-changes", "-A", "127.0.0.1", "-P", &port.to_string()])
            .args(env_vars.iter().flat_map(|pair| ["--env-var", pair.as_str()]))
            .stdin(Stdio::null())
            .stdout(log.reopen().expect("log file"))
            .stderr(log.reopen().expect("log file"))
            // Its own process group, so that stopping it also stops `cargo run` and the function.
            .process_group(0);
        let process = command
            .spawn()
            .unwrap_or_else(|error| panic!("could not start cargo lambda watch: {error}\n{CARGO_LAMBDA_HINT}"));
        let watch = Self { process, port, log };
        watch.wait_until_ready(Duration::from_secs(600));
        watch
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}/lambda-url/mobway-receiver{path}", self.port)
    }

    fn wait_until_ready(&self, limit: Duration) {
        let started = Instant::now();
        let agent = http_agent();
        loop {
            if agent.get(&self.url("/")).call().is_ok_and(|response| response.status() == 200) {
                return;
            }
            let log = std::fs::read_to_string(self.log.path()).unwrap_or_default();
            assert!(
                !log.contains("no such command") && !log.contains("no such subcommand"),
                "{CARGO_LAMBDA_HINT}\n{log}"
            );
            assert!(started.elapsed() < limit, "the function did not answer within {limit:?}; its log:\n{log}");
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap_or_default()
    }
}

impl Drop for LambdaWatch {
    fn drop(&mut self) {
        let group = format!("-{}", self.process.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        let _ = self.process.wait();
    }
}

/// An HTTP client that returns every status instead of turning 4xx and 5xx into errors.
pub fn http_agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

/// POSTs a body with an optional `X-Signature`; returns status and parsed JSON answer.
pub fn post(url: &str, body: &[u8], signature: Option<&str>) -> (u16, serde_json::Value) {
    let mut request = http_agent().post(url).header("content-type", "application/json");
    if let Some(signature) = signature {
        request = request.header("x-signature", signature);
    }
    let mut response = request.send(body).unwrap_or_else(|error| panic!("POST {url}: {error}"));
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().expect("answer body");
    (status, serde_json::from_str(&text).unwrap_or_else(|_| panic!("answer is not JSON: {text}")))
}

/// The hex signature mobway would send for a body.
pub fn signature_for(body: &[u8], secret: &str) -> String {
    mobway_receiver::signature::sign(&mobway_receiver::signature::SigningSecret::new(secret).expect("non-empty"), body)
}

/// The verifier of a configuration whose secrets come from the environment, as all test configurations' do.
pub fn verifier_for(config: &Config) -> mobway_receiver::signature::SignatureVerifier {
    match &config.secrets {
        mobway_receiver::config::SecretSource::Environment(verifier) => verifier.clone(),
        other => panic!("test configurations carry their secrets, not {other:?}"),
    }
}

const MOTO_HINT: &str = "moto's server is needed for the Secrets Manager tests. Install it with\n    \
    pip install 'moto[server]==5.2.1'\nor run `make test`, which installs it into .venv.";

/// A Secrets Manager API on 127.0.0.1: moto's server.
pub struct MotoServer {
    process: Child,
    port: u16,
}

impl MotoServer {
    pub fn start() -> Self {
        let binary = std::env::var_os("PATH")
            .map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
            .unwrap_or_default()
            .into_iter()
            .chain([repo_root().join(".venv/bin")])
            .map(|dir| dir.join("moto_server"))
            .find(|candidate| candidate.is_file())
            .unwrap_or_else(|| panic!("{MOTO_HINT}"));
        let port = free_port();
        let process = Command::new(binary)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| panic!("could not start moto_server: {error}\n{MOTO_HINT}"));
        let server = Self { process, port };
        wait_for_listener(SocketAddr::from(([127, 0, 0, 1], port)), Duration::from_secs(30), "moto_server");
        server
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// SDK configuration for this server, with throwaway credentials (moto checks none).
    pub fn sdk_config(&self) -> SdkConfig {
        sdk_config(&self.endpoint(), "moto", "moto")
    }

    pub fn client(&self) -> aws_sdk_secretsmanager::Client {
        aws_sdk_secretsmanager::Client::new(&self.sdk_config())
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}
