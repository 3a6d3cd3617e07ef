//! Receives signed mobway vehicle-telemetry webhooks and lands every batch in S3, partitioned by VIN and date.
//!
//! The core (`signature`, `keys`, `batch`, `delivery`) works on plain bytes and values. `storage` is the seam
//! to the object store and `s3` its AWS implementation; `secrets` reads the signing secret from Secrets Manager;
//! `event` decodes API Gateway events, `handler` is the HTTP face used by `main`, and `telemetry` the summary log
//! line and metrics of each request; `allocator` keeps one delivery's memory for the next.

pub mod allocator;
pub mod batch;
pub mod config;
pub mod delivery;
pub mod error;
pub mod event;
pub mod handler;
pub mod keys;
pub mod s3;
pub mod secrets;
pub mod signature;
pub mod storage;
pub mod telemetry;
