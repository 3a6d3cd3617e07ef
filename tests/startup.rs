//! The built function binary refuses to start without its configuration, saying what is missing.

use std::process::Command;

fn start_with(env: &[(&str, &str)]) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_mobway-receiver"))
        .env_clear()
        .envs(env.iter().copied())
        .output()
        .expect("run the function binary");
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.success(), text)
}

#[test]
fn function_without_a_bucket_stops_at_init_naming_the_variable() {
    let (started, output) = start_with(&[("SIGN_SECRET", "init-test-secret")]);
    assert!(!started);
    assert!(output.contains("BUCKET_NAME must be set"), "{output}");
    assert!(!output.contains("init-test-secret"), "{output}");
}

#[test]
fn function_without_a_secret_stops_at_init_naming_the_variable() {
    let (started, output) = start_with(&[("BUCKET_NAME", "b")]);
    assert!(!started);
    assert!(output.contains("SIGN_SECRET or SIGN_SECRET_ARN must be set"), "{output}");
}

#[test]
fn function_with_an_invalid_raw_archive_switch_stops_at_init() {
    let (started, output) = start_with(&[("BUCKET_NAME", "b"), ("SIGN_SECRET", "s"), ("RAW_ARCHIVE", "sometimes")]);
    assert!(!started);
    assert!(output.contains("RAW_ARCHIVE must be true or false"), "{output}");
}

#[test]
fn function_given_both_kinds_of_secret_stops_at_init() {
    let (started, output) =
        start_with(&[("BUCKET_NAME", "b"), ("SIGN_SECRET", "init-test-secret"), ("SIGN_SECRET_ARN", "arn:aws:x")]);
    assert!(!started);
    assert!(output.contains("set either SIGN_SECRET_ARN or SIGN_SECRET"), "{output}");
    assert!(!output.contains("init-test-secret"), "{output}");
}
