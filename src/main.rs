//! Lambda entry point: reads configuration, the signing secrets and the S3 client once, then serves API Gateway
//! requests.

use std::convert::Infallible;

use aws_config::BehaviorVersion;
use lambda_http::tower::ServiceExt;
use lambda_http::{Adapter, Error, Request, lambda_runtime, service_fn, tracing};
use mobway_receiver::allocator;
use mobway_receiver::config::Config;
use mobway_receiver::event::ApiGatewayEvent;
use mobway_receiver::handler::Receiver;
use mobway_receiver::s3::S3Store;
use mobway_receiver::secrets::load_verifier;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    allocator::keep_freed_memory_for_the_next_delivery();
    tracing::init_default_subscriber();
    let config = Config::from_env().map_err(|error| init_error("invalid configuration", error))?;
    let shared = aws_config::defaults(BehaviorVersion::latest()).load().await;
    let verifier =
        load_verifier(&config.secrets, &shared).await.map_err(|error| init_error("no signing secret", error))?;
    let receiver = Receiver::new(&config, verifier, S3Store::with_sdk_config(&shared, &config));
    let receiver = &receiver;
    let handler =
        service_fn(move |request: Request| async move { Ok::<_, Infallible>(receiver.handle(request).await) });
    // What `lambda_http::run` does, with each event decoded once rather than by lambda_http's trial and error.
    lambda_runtime::run(Adapter::from(handler).map_request(ApiGatewayEvent::into_lambda_request)).await
}

/// Logs why the function cannot start and returns an error whose Debug output (what `main` prints) reads well.
fn init_error(what: &str, error: impl std::fmt::Display) -> Error {
    tracing::error!(%error, "{what}");
    Error::from(format!("{what}: {error}"))
}
