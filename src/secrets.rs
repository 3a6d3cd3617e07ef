//! Reads the signing secrets from AWS Secrets Manager once per container: `AWSCURRENT`, and `AWSPREVIOUS` during a
//! rotation, so that deliveries signed with either are accepted.

use aws_config::SdkConfig;
use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::error::{DisplayErrorContext, SdkError};
use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueError;

use crate::config::SecretSource;
use crate::signature::{SignatureVerifier, SigningSecret};

/// Why the signing secret could not be read at init. Names the secret and the stage, never a value.
#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error("could not read {stage} of {secret_id}: {cause}")]
    Unreadable { secret_id: String, stage: &'static str, cause: String },
    #[error("{stage} of {secret_id} has an empty value")]
    Empty { secret_id: String, stage: &'static str },
}

/// The verifier for the configured source: the environment's secrets as they are, or Secrets Manager's.
pub async fn load_verifier(source: &SecretSource, shared: &SdkConfig) -> Result<SignatureVerifier, SecretsError> {
    match source {
        SecretSource::Environment(verifier) => Ok(verifier.clone()),
        SecretSource::SecretsManager { secret_id } => {
            let client = Client::new(shared);
            let current = read_stage(&client, secret_id, "AWSCURRENT")
                .await?
                .ok_or_else(|| SecretsError::Empty { secret_id: secret_id.clone(), stage: "AWSCURRENT" })?;
            let previous = read_stage(&client, secret_id, "AWSPREVIOUS").await?;
            Ok(SignatureVerifier::new(current, previous))
        }
    }
}

/// One stage's value; `None` when the stage does not exist (no rotation under way) or is empty.
async fn read_stage(
    client: &Client,
    secret_id: &str,
    stage: &'static str,
) -> Result<Option<SigningSecret>, SecretsError> {
    match client.get_secret_value().secret_id(secret_id).version_stage(stage).send().await {
        Ok(output) => {
            let value = match (output.secret_string, output.secret_binary) {
                (Some(text), _) => text.into_bytes(),
                (None, Some(blob)) => blob.into_inner(),
                (None, None) => Vec::new(),
            };
            Ok(SigningSecret::new(value))
        }
        Err(SdkError::ServiceError(failure))
            if stage == "AWSPREVIOUS" && matches!(failure.err(), GetSecretValueError::ResourceNotFoundException(_)) =>
        {
            Ok(None)
        }
        Err(error) => Err(SecretsError::Unreadable {
            secret_id: secret_id.to_owned(),
            stage,
            cause: DisplayErrorContext(&error).to_string(),
        }),
    }
}
