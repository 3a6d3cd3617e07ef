#!/usr/bin/env python3
"""Writes the API Gateway test events in events/ from the payloads in events/payloads/.

Every event carries a real signature made with the test secret below, so `sam local invoke -e`,
`cargo lambda invoke --data-file` and the Rust tests all see exactly what API Gateway would pass on.
Run it again after changing a payload: python3 scripts/make_events.py
"""

import base64
import json
import pathlib

from mobway_send import sign

TEST_SECRET = b"mobway-local-test-secret"
EVENTS = pathlib.Path(__file__).resolve().parent.parent / "events"
PAYLOADS = EVENTS / "payloads"
TIME = "03/Dec/2026:12:00:00 +0000"
EPOCH_MS = 1796385600000


def http_api_event(method, path, headers, body=None, base64_encoded=False):
    """An HTTP API (payload format 2.0) event for the template's $default stage."""
    route_key = f"{method} {path}"
    event = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"host": "abcdef1234.execute-api.eu-west-1.amazonaws.com", "user-agent": "mobway-webhook/1.0", **headers},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abcdef1234",
            "domainName": "abcdef1234.execute-api.eu-west-1.amazonaws.com",
            "domainPrefix": "abcdef1234",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.10", "userAgent": "mobway-webhook/1.0"},
            "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            "routeKey": route_key,
            "stage": "$default",
            "time": TIME,
            "timeEpoch": EPOCH_MS,
        },
        "isBase64Encoded": base64_encoded,
    }
    if body is not None:
        event["body"] = body
    return event


def rest_api_event(method, resource, stage, headers, body):
    """A REST API (payload format 1.0) proxy event with the stage in the request context's path."""
    return {
        "resource": resource,
        "path": resource,
        "httpMethod": method,
        "headers": {"Host": "abcdef1234.execute-api.eu-west-1.amazonaws.com", **headers},
        "multiValueHeaders": {"Host": ["abcdef1234.execute-api.eu-west-1.amazonaws.com"], **{k: [v] for k, v in headers.items()}},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abcdef1234",
            "resourceId": "a1b2c3",
            "resourcePath": resource,
            "httpMethod": method,
            "path": f"/{stage}{resource}",
            "protocol": "HTTP/1.1",
            "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            "requestTime": TIME,
            "requestTimeEpoch": EPOCH_MS,
            "stage": stage,
            "identity": {"sourceIp": "203.0.113.10", "userAgent": "mobway-webhook/1.0"},
        },
        "body": body,
        "isBase64Encoded": False,
    }


def signed_headers(body: bytes, header_name="x-signature"):
    return {"content-type": "application/json", header_name: sign(TEST_SECRET, body)}


def main():
    sample = (PAYLOADS / "provider-sample.json").read_bytes()
    as_documented = (PAYLOADS / "provider-sample-as-documented.txt").read_bytes()
    multi_vin = (PAYLOADS / "multi-vin.json").read_bytes()
    wrong = sign(b"not-the-secret", sample)
    events = {
        "health.json": http_api_event("GET", "/", {}),
        "webhook-provider-sample.json": http_api_event("POST", "/webhook", signed_headers(sample), sample.decode()),
        "webhook-provider-sample-as-documented.json": http_api_event(
            "POST", "/webhook", signed_headers(as_documented), as_documented.decode()
        ),
        "webhook-multi-vin.json": http_api_event("POST", "/webhook", signed_headers(multi_vin), multi_vin.decode()),
        "webhook-base64.json": http_api_event(
            "POST", "/webhook", signed_headers(multi_vin), base64.b64encode(multi_vin).decode(), base64_encoded=True
        ),
        "webhook-wrong-signature.json": http_api_event(
            "POST", "/webhook", {"content-type": "application/json", "x-signature": wrong}, sample.decode()
        ),
        "webhook-missing-signature.json": http_api_event("POST", "/webhook", {"content-type": "application/json"}, sample.decode()),
        "webhook-rest-stage.json": rest_api_event(
            "POST", "/webhook", "Prod", {"Content-Type": "application/json", "X-Signature": sign(TEST_SECRET, sample)}, sample.decode()
        ),
    }
    for name, event in events.items():
        (EVENTS / name).write_text(json.dumps(event, indent=2) + "\n")
        print(f"wrote events/{name}")


if __name__ == "__main__":
    main()
