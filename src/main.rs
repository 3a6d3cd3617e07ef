//! Lambda entry point: reads configuration and builds the S3 client once, then serves API Gateway requests.

use std::convert::Infallible;

use lambda_http::{Error, Request, run, service_fn, tracing};
use mobway_receiver::config::Config;
use mobway_receiver::handler::Receiver;
use mobway_receiver::s3::S3Store;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    let config = Config::from_env().map_err(|error| {
        tracing::error!(%error, "invalid configuration");
        // main prints a returned error with Debug: carry the readable message, not the enum variant.
        Error::from(format!("invalid configuration: {error}"))
    })?;
    let receiver = Receiver::new(&config, S3Store::connect(&config).await);
    let receiver = &receiver;
    run(service_fn(move |request: Request| async move { Ok::<_, Infallible>(receiver.handle(request).await) })).await
}
