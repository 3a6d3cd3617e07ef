"""A receiver equivalent to the provider's documented Flask example, for the CPU comparison in BENCHMARKS.md.

It does what that example does per request: HMAC-SHA256 of the body with the shared secret, a constant-time
comparison with X-Signature, 403 on mismatch, json.loads of the body, and a JSON answer. Served by gunicorn.
"""

import hashlib
import hmac
import json
import logging
import os

from flask import Flask, abort, jsonify, request

app = Flask(__name__)
SECRET = os.environ["SIGN_SECRET"].encode()
logging.basicConfig(level=logging.WARNING)


@app.get("/")
def health():
    return jsonify({"status": "success"}), 200


@app.post("/webhook")
def webhook():
    payload = request.get_data(as_text=True)
    signature = request.headers.get("X-Signature", "")
    expected = hmac.new(SECRET, payload.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature):
        logging.warning("Invalid signature, aborting...")
        abort(403)
    data = json.loads(payload)
    logging.info("Processing data: %d vehicles", len(data))
    return jsonify({"status": "success"}), 200
