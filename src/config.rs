//! Configuration read once at cold start from the environment, checked before the first request.

use crate::delivery::Layout;
use crate::keys::KeyLayout;
use crate::signature::{SignatureVerifier, SigningSecret};
use crate::telemetry::Telemetry;

/// The CloudWatch namespace of the function's metrics unless `METRICS_NAMESPACE` names another.
pub const DEFAULT_METRICS_NAMESPACE: &str = "MobwayReceiver";

/// Why the function cannot start. Shown in the init error; never contains a secret.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{0} must be set and not empty")]
    Missing(&'static str),
    #[error("RAW_ARCHIVE must be true or false, not {0:?}")]
    InvalidRawArchive(String),
    #[error("KEY_PREFIX must not start with '/', since S3 keys would then begin with an empty folder")]
    KeyPrefixStartsWithSlash,
    #[error("set either SIGN_SECRET_ARN or SIGN_SECRET (and SIGN_SECRET_PREVIOUS), not both")]
    TwoSecretSources,
}

/// Where the signing secrets come from.
#[derive(Debug, Clone)]
pub enum SecretSource {
    /// `SIGN_SECRET` and `SIGN_SECRET_PREVIOUS`, for local runs.
    Environment(SignatureVerifier),
    /// A Secrets Manager secret (`SIGN_SECRET_ARN`), read once at cold start.
    SecretsManager { secret_id: String },
}

/// Everything the function needs to know, read once.
#[derive(Debug, Clone)]
pub struct Config {
    pub bucket: String,
    pub secrets: SecretSource,
    pub layout: Layout,
    /// An S3-compatible endpoint to use instead of AWS, reached with path-style addressing.
    pub s3_endpoint: Option<String>,
    pub telemetry: Telemetry,
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads configuration through `lookup`, so tests need not touch the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let non_empty = |name: &str| lookup(name).filter(|value| !value.is_empty());
        let bucket = non_empty("BUCKET_NAME").ok_or(ConfigError::Missing("BUCKET_NAME"))?;
        let secrets = match (non_empty("SIGN_SECRET_ARN"), non_empty("SIGN_SECRET"), non_empty("SIGN_SECRET_PREVIOUS"))
        {
            (Some(secret_id), None, None) => SecretSource::SecretsManager { secret_id },
            (Some(_), _, _) => return Err(ConfigError::TwoSecretSources),
            (None, current, previous) => SecretSource::Environment(SignatureVerifier::new(
                current.and_then(SigningSecret::new).ok_or(ConfigError::Missing("SIGN_SECRET or SIGN_SECRET_ARN"))?,
                previous.and_then(SigningSecret::new),
            )),
        };
        let key_prefix = lookup("KEY_PREFIX").unwrap_or_default();
        if key_prefix.starts_with('/') {
            return Err(ConfigError::KeyPrefixStartsWithSlash);
        }
        let raw_archive = match non_empty("RAW_ARCHIVE") {
            None => true,
            Some(value) => parse_switch(&value).ok_or(ConfigError::InvalidRawArchive(value))?,
        };
        let s3_endpoint = non_empty("AWS_ENDPOINT_URL_S3").or_else(|| non_empty("AWS_ENDPOINT_URL"));
        let telemetry = Telemetry {
            namespace: non_empty("METRICS_NAMESPACE").unwrap_or_else(|| DEFAULT_METRICS_NAMESPACE.into()),
            // Set by Lambda (and by cargo lambda); the fallback only matters outside both.
            function_name: non_empty("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|| "mobway-receiver".into()),
        };
        Ok(Self {
            bucket,
            secrets,
            layout: Layout { keys: KeyLayout::new(key_prefix), raw_archive },
            s3_endpoint,
            telemetry,
        })
    }
}

fn parse_switch(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_lookup(|name| vars.get(name).cloned())
    }

    const MINIMAL: [(&str, &str); 2] = [("BUCKET_NAME", "b"), ("SIGN_SECRET", "s")];

    #[test]
    fn minimal_configuration_archives_raw_bodies_at_the_bucket_root() {
        let config = config(&MINIMAL).expect("valid");
        assert_eq!(config.bucket, "b");
        assert!(config.layout.raw_archive);
        assert_eq!(config.layout.keys.prefix(), "");
        assert_eq!(config.s3_endpoint, None);
        assert_eq!(config.telemetry.namespace, DEFAULT_METRICS_NAMESPACE);
    }

    #[test]
    fn metrics_namespace_and_function_name_come_from_the_environment() {
        let config = config(&[
            MINIMAL[0],
            MINIMAL[1],
            ("METRICS_NAMESPACE", "Fleet/Webhooks"),
            ("AWS_LAMBDA_FUNCTION_NAME", "stack-ReceiverFunction-1"),
        ])
        .expect("valid");
        assert_eq!(config.telemetry.namespace, "Fleet/Webhooks");
        assert_eq!(config.telemetry.function_name, "stack-ReceiverFunction-1");
    }

    #[test]
    fn missing_bucket_stops_the_function_with_a_clear_message() {
        let error = config(&[("SIGN_SECRET", "s")]).expect_err("no bucket");
        assert_eq!(error.to_string(), "BUCKET_NAME must be set and not empty");
    }

    #[test]
    fn missing_or_empty_secret_stops_the_function() {
        let missing = ConfigError::Missing("SIGN_SECRET or SIGN_SECRET_ARN");
        assert_eq!(config(&[("BUCKET_NAME", "b")]).expect_err("no secret"), missing);
        assert_eq!(config(&[("BUCKET_NAME", "b"), ("SIGN_SECRET", "")]).expect_err("empty secret"), missing);
    }

    #[test]
    fn secret_arn_selects_secrets_manager() {
        let arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:mobway-sign-secret-AbCdEf";
        let config = config(&[("BUCKET_NAME", "b"), ("SIGN_SECRET_ARN", arn)]).expect("valid");
        assert!(matches!(config.secrets, SecretSource::SecretsManager { secret_id } if secret_id == arn));
    }

    #[test]
    fn setting_both_kinds_of_secret_stops_the_function() {
        for extra in [("SIGN_SECRET", "s"), ("SIGN_SECRET_PREVIOUS", "p")] {
            let error = config(&[("BUCKET_NAME", "b"), ("SIGN_SECRET_ARN", "arn:x"), extra]).expect_err("two sources");
            assert_eq!(error, ConfigError::TwoSecretSources, "{extra:?}");
        }
    }

    #[test]
    fn raw_archive_accepts_true_and_false_spellings_only() {
        for (value, expected) in [("false", false), ("FALSE", false), ("0", false), ("true", true), ("1", true)] {
            let config = config(&[MINIMAL[0], MINIMAL[1], ("RAW_ARCHIVE", value)]).expect("valid");
            assert_eq!(config.layout.raw_archive, expected, "{value}");
        }
        let error = config(&[MINIMAL[0], MINIMAL[1], ("RAW_ARCHIVE", "maybe")]).expect_err("invalid");
        assert_eq!(error, ConfigError::InvalidRawArchive("maybe".into()));
    }

    #[test]
    fn key_prefix_starting_with_a_slash_is_refused() {
        let error = config(&[MINIMAL[0], MINIMAL[1], ("KEY_PREFIX", "/data/")]).expect_err("invalid");
        assert_eq!(error, ConfigError::KeyPrefixStartsWithSlash);
    }

    #[test]
    fn s3_specific_endpoint_wins_over_the_general_one() {
        let config = config(&[
            MINIMAL[0],
            MINIMAL[1],
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:1"),
            ("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:2"),
        ])
        .expect("valid");
        assert_eq!(config.s3_endpoint.as_deref(), Some("http://127.0.0.1:2"));
    }

    #[test]
    fn config_debug_output_hides_the_secrets() {
        let config = config(&[MINIMAL[0], ("SIGN_SECRET", "top-secret"), ("SIGN_SECRET_PREVIOUS", "old-secret")])
            .expect("valid");
        let shown = format!("{config:?}");
        assert!(!shown.contains("top-secret") && !shown.contains("old-secret"), "{shown}");
    }
}
