#!/usr/bin/env python3
"""Provider stand-in: signs a payload file exactly as mobway does and POSTs it to a receiver.

The signature is the lowercase hex HMAC-SHA256 of the file's exact bytes, sent in the X-Signature header.

    python3 scripts/mobway_send.py --url http://127.0.0.1:9000/lambda-url/mobway-receiver/webhook \\
        --secret mobway-local-test-secret events/payloads/provider-sample.json

The secret may also come from the MOBWAY_SIGN_SECRET environment variable, which keeps it out of shell history.
Prints the status and the answer; exits 0 only on a 2xx answer. Standard library only.
"""

import argparse
import hashlib
import hmac
import os
import sys
import urllib.error
import urllib.request


def sign(secret: bytes, body: bytes) -> str:
    """Hex HMAC-SHA256 of the body, as mobway puts in X-Signature."""
    return hmac.new(secret, body, hashlib.sha256).hexdigest()


def deliver(url: str, body: bytes, signature: str, timeout: float = 30.0) -> tuple[int, str]:
    """POSTs a body with its signature; returns the status and the answer's text, whatever the status."""
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "X-Signature": signature},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode("utf-8", "replace")


def main() -> int:
    parser = argparse.ArgumentParser(description="Sign a payload like mobway and POST it to a webhook receiver.")
    parser.add_argument("payload", help="file whose exact bytes are signed and sent")
    parser.add_argument("--url", required=True, help="the receiver's webhook URL")
    parser.add_argument("--secret", default=os.environ.get("MOBWAY_SIGN_SECRET"), help="signing secret (default: $MOBWAY_SIGN_SECRET)")
    parser.add_argument("--signature", help="send this X-Signature instead of the right one (to see a 403)")
    args = parser.parse_args()
    if not args.secret and args.signature is None:
        parser.error("give --secret or set MOBWAY_SIGN_SECRET")
    with open(args.payload, "rb") as file:
        body = file.read()
    signature = args.signature if args.signature is not None else sign(args.secret.encode(), body)
    try:
        status, answer = deliver(args.url, body, signature)
    except OSError as error:
        print(f"could not reach {args.url}: {error}", file=sys.stderr)
        return 2
    print(status, answer)
    return 0 if 200 <= status < 300 else 1


if __name__ == "__main__":
    sys.exit(main())
