//! The signing secret read from Secrets Manager (moto's server on 127.0.0.1), including a rotation:
//! the previous secret is accepted while both versions exist, and refused once it is gone and the function restarts.

mod support;

use lambda_http::http::StatusCode;
use mobway_receiver::config::{Config, SecretSource};
use mobway_receiver::handler::Receiver;
use mobway_receiver::s3::S3Store;
use mobway_receiver::secrets::load_verifier;
use support::{LambdaWatch, MotoServer, S3Server, post, signature_for, signed_delivery};

const BODY: &[u8] = br#"{"VIN1":[{"date_time":"2023-02-14 10:00:00"}]}"#;

fn config_with_secret_arn(bucket: &str, arn: &str) -> Config {
    support::config_from(&[("BUCKET_NAME", bucket), ("SIGN_SECRET_ARN", arn)])
}

/// What a cold start does: read the secrets, build the receiver.
async fn cold_start(moto: &MotoServer, s3: &S3Server, config: &Config) -> Receiver<S3Store> {
    let verifier = load_verifier(&config.secrets, &moto.sdk_config()).await.expect("secrets readable");
    Receiver::new(config, verifier, S3Store::with_sdk_config(&s3.sdk_config(), config))
}

#[tokio::test(flavor = "multi_thread")]
async fn rotation_accepts_the_previous_secret_until_it_is_removed_and_the_function_restarts() {
    let moto = MotoServer::start();
    let s3 = S3Server::start();
    s3.create_bucket("rotation").await;
    let secrets = moto.client();
    let created =
        secrets.create_secret().name("mobway-sign-secret").secret_string("first-secret").send().await.expect("create");
    let arn = created.arn().expect("arn").to_owned();
    let first_version = created.version_id().expect("version").to_owned();
    let config = config_with_secret_arn("rotation", &arn);
    assert!(matches!(config.secrets, SecretSource::SecretsManager { .. }));

    let before_rotation = cold_start(&moto, &s3, &config).await;
    assert_eq!(before_rotation.handle(signed_delivery(BODY, "first-secret")).await.status(), StatusCode::OK);
    assert_eq!(before_rotation.handle(signed_delivery(BODY, "second-secret")).await.status(), StatusCode::FORBIDDEN);

    // Rotate: the new value becomes AWSCURRENT, the old one AWSPREVIOUS.
    secrets.put_secret_value().secret_id(&arn).secret_string("second-secret").send().await.expect("rotate");
    let during_rotation = cold_start(&moto, &s3, &config).await;
    assert_eq!(during_rotation.handle(signed_delivery(BODY, "first-secret")).await.status(), StatusCode::OK);
    assert_eq!(during_rotation.handle(signed_delivery(BODY, "second-secret")).await.status(), StatusCode::OK);
    assert_eq!(during_rotation.handle(signed_delivery(BODY, "third-secret")).await.status(), StatusCode::FORBIDDEN);

    // End the rotation: the old version loses AWSPREVIOUS; a restarted function no longer accepts it.
    secrets
        .update_secret_version_stage()
        .secret_id(&arn)
        .version_stage("AWSPREVIOUS")
        .remove_from_version_id(&first_version)
        .send()
        .await
        .expect("remove AWSPREVIOUS");
    let after_rotation = cold_start(&moto, &s3, &config).await;
    assert_eq!(after_rotation.handle(signed_delivery(BODY, "first-secret")).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(after_rotation.handle(signed_delivery(BODY, "second-secret")).await.status(), StatusCode::OK);

    // A container started before then keeps what it read at its cold start: secrets are read once, not per request.
    assert_eq!(during_rotation.handle(signed_delivery(BODY, "first-secret")).await.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_secret_stops_the_cold_start_naming_the_secret_and_stage_only() {
    let moto = MotoServer::start();
    let config = config_with_secret_arn("b", "arn:aws:secretsmanager:us-east-1:123456789012:secret:absent-AbCdEf");
    let error = load_verifier(&config.secrets, &moto.sdk_config()).await.expect_err("no such secret");
    let message = error.to_string();
    assert!(message.contains("AWSCURRENT") && message.contains("absent-AbCdEf"), "{message}");
}

#[tokio::test(flavor = "multi_thread")]
async fn function_under_cargo_lambda_reads_its_secret_from_secrets_manager_at_cold_start() {
    let moto = MotoServer::start();
    let s3 = S3Server::start();
    s3.create_bucket("from-secrets-manager").await;
    let created = moto
        .client()
        .create_secret()
        .name("mobway-e2e-secret")
        .secret_string("secret-from-secrets-manager")
        .send()
        .await
        .expect("create");
    let watch = LambdaWatch::start(&[
        ("BUCKET_NAME", "from-secrets-manager".to_owned()),
        ("SIGN_SECRET_ARN", created.arn().expect("arn").to_owned()),
        ("AWS_ENDPOINT_URL_SECRETS_MANAGER", moto.endpoint()),
        ("AWS_ENDPOINT_URL_S3", s3.endpoint()),
        ("AWS_ACCESS_KEY_ID", support::ACCESS_KEY.to_owned()),
        ("AWS_SECRET_ACCESS_KEY", support::SECRET_KEY.to_owned()),
        ("AWS_REGION", "us-east-1".to_owned()),
    ]);
    let webhook = watch.url("/webhook");
    let (status, _) = post(&webhook, BODY, Some(&signature_for(BODY, "secret-from-secrets-manager")));
    assert_eq!(status, 200);
    let (status, _) = post(&webhook, BODY, Some(&signature_for(BODY, support::TEST_SIGN_SECRET)));
    assert_eq!(status, 403);
    assert_eq!(s3.keys("from-secrets-manager").await.len(), 2);
    assert!(!watch.log_text().contains("secret-from-secrets-manager"), "the secret must never be logged");
}
