"""The provider-style Flask receiver extended to do the work our function does, for a like-for-like CPU comparison.

Per request, as the contract asks of our function: HMAC-SHA256 over the raw body with a constant-time comparison,
the batch id (SHA-256 of the body), json.loads, records grouped by VIN and UTC date of `date_time`, each record
written back compactly as one line, and every partition plus the raw body written to S3 with boto3, concurrently,
before answering 200. Served by gunicorn; S3 settings come from the same environment variables as the function's.
"""

import hashlib
import hmac
import json
import logging
import os
import re
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

import boto3
from botocore.config import Config
from flask import Flask, abort, jsonify, request

app = Flask(__name__)
SECRET = os.environ["SIGN_SECRET"].encode()
BUCKET = os.environ["BUCKET_NAME"]
VIN = re.compile(r"[A-Za-z0-9]{1,32}")
logging.basicConfig(level=logging.WARNING)

# One client and one thread pool per worker, built at start as the function builds its client at cold start.
s3 = boto3.client(
    "s3", endpoint_url=os.environ["AWS_ENDPOINT_URL_S3"],
    config=Config(s3={"addressing_style": "path"}, max_pool_connections=64),
)
writers = ThreadPoolExecutor(max_workers=64)


def utc_date(date_time):
    """The UTC date of a `date_time`, or None when it cannot be read."""
    try:
        moment = datetime.fromisoformat(date_time)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc)
    return moment.date().isoformat()


def partitions(data):
    """Lines of each (VIN, date) partition, and whether anything could not be partitioned."""
    lines, unpartitioned = defaultdict(list), False
    if not isinstance(data, dict):
        return lines, True
    for vin, records in data.items():
        if not VIN.fullmatch(vin) or not isinstance(records, list):
            unpartitioned = True
            continue
        for record in records:
            date = utc_date(record.get("date_time")) if isinstance(record, dict) else None
            if date is None:
                unpartitioned = True
                continue
            lines[(vin, date)].append(json.dumps(record, separators=(",", ":"), ensure_ascii=False))
    return lines, unpartitioned


@app.get("/")
def health():
    return jsonify({"status": "success"}), 200


@app.post("/webhook")
def webhook():
    body = request.get_data()
    signature = request.headers.get("X-Signature", "")
    expected = hmac.new(SECRET, body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature.strip().lower().removeprefix("sha256=")):
        abort(403)
    batch_id = hashlib.sha256(body).hexdigest()
    received_at = datetime.now(timezone.utc)
    try:
        lines, _ = partitions(json.loads(body))
    except ValueError:
        lines = {}
    puts = [
        dict(Key=f"vin={vin}/date={date}/{batch_id}.jsonl", Body=("\n".join(rows) + "\n").encode(),
             ContentType="application/x-ndjson")
        for (vin, date), rows in lines.items()
    ]
    puts.append(dict(Key=f"raw/date={received_at.date().isoformat()}/{batch_id}.json", Body=body,
                     ContentType="application/json",
                     Metadata={"signature": signature, "received-at": received_at.isoformat()}))
    for write in [writers.submit(s3.put_object, Bucket=BUCKET, **put) for put in puts]:
        write.result()
    records = sum(len(rows) for rows in lines.values())
    return jsonify({"status": "success", "batch_id": batch_id, "records": records, "objects": len(puts)}), 200
