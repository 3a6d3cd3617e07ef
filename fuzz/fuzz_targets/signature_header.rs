//! Fuzzes the `X-Signature` parser and verifier: never panics, and accepts a header only if it carries the tag.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mobway_receiver::signature::{SignatureVerifier, SigningSecret, parse_signature_header, sign};

fuzz_target!(|input: (&[u8], &[u8])| {
    let (header, body) = input;
    let secret = SigningSecret::new("fuzz-secret").expect("non-empty");
    let verifier = SignatureVerifier::new(secret.clone(), None);
    let expected = sign(&secret, body);
    let parsed = parse_signature_header(header);
    if let Ok(tag) = parsed {
        assert_eq!(tag.len(), 32);
    }
    let accepted = verifier.verify(body, [header]).is_ok();
    if accepted {
        assert_eq!(hex::encode(parsed.expect("an accepted header parses")), expected);
    }
});
