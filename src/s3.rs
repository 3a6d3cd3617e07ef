//! The S3 implementation of the storage seam.

use std::time::Duration;

use aws_config::SdkConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_s3::Client;
use aws_sdk_s3::error::DisplayErrorContext;
use aws_sdk_s3::primitives::ByteStream;

use crate::config::Config;
use crate::delivery::StoredObject;
use crate::storage::{ObjectStore, StorageError};

/// Upper bound for one PUT attempt; a stalled connection is abandoned and retried.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);
/// Upper bound for a PUT with its retries, kept well below the function's timeout (20 s in `template.yaml`)
/// so that a hanging store is answered with 500 rather than a Lambda timeout.
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(12);

/// Whether the body of a PUT is hashed into its SigV4 signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadSigning {
    /// Not hashed, which is what the function does: TLS protects the body on the way to S3, and the CRC32 checksum
    /// the SDK sends with every PUT lets S3 refuse a damaged body.
    Skipped,
    /// The SDK's default: one SHA-256 pass over every body byte. Kept so the benchmark can measure what skipping it
    /// saves (BENCHMARKS.md).
    Signed,
}

/// Writes objects to one S3 bucket.
#[derive(Debug, Clone)]
pub struct S3Store {
    client: Client,
    bucket: String,
    payload_signing: PayloadSigning,
}

impl S3Store {
    /// Builds the client from given SDK settings, adding the endpoint and the timeouts the function relies on.
    pub fn with_sdk_config(shared: &SdkConfig, config: &Config) -> Self {
        let timeouts = TimeoutConfig::builder()
            .operation_attempt_timeout(ATTEMPT_TIMEOUT)
            .operation_timeout(OPERATION_TIMEOUT)
            .build();
        let mut builder = aws_sdk_s3::config::Builder::from(shared).timeout_config(timeouts);
        if let Some(endpoint) = &config.s3_endpoint {
            // S3-compatible servers are reached by path: no bucket name in the host.
            builder = builder.endpoint_url(endpoint).force_path_style(true);
        }
        Self {
            client: Client::from_conf(builder.build()),
            bucket: config.bucket.clone(),
            payload_signing: PayloadSigning::Skipped,
        }
    }

    /// The same store, hashing bodies into the signature or not.
    pub fn with_payload_signing(self, payload_signing: PayloadSigning) -> Self {
        Self { payload_signing, ..self }
    }
}

impl ObjectStore for S3Store {
    async fn put(&self, object: StoredObject) -> Result<(), StorageError> {
        let mut request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(&object.key)
            .content_type(object.content_type)
            .body(ByteStream::from(object.body));
        for (name, value) in object.metadata {
            request = request.metadata(name, value);
        }
        let sent = match self.payload_signing {
            PayloadSigning::Skipped => request.customize().disable_payload_signing().send().await,
            PayloadSigning::Signed => request.send().await,
        };
        match sent {
            Ok(_) => Ok(()),
            Err(error) => Err(StorageError { key: object.key, cause: DisplayErrorContext(&error).to_string() }),
        }
    }
}
