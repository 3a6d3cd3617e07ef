#!/usr/bin/env bash
# Runs the function locally: an S3-compatible store whose data you can see on disk, and the function under
# `cargo lambda watch`, configured with the test secret. Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."

PORT="${PORT:-9000}"
S3_PORT="${S3_PORT:-9014}"
BUCKET="${BUCKET:-mobway-local}"
DATA=".local/s3"
SECRET="mobway-local-test-secret"
export PATH="$PWD/.venv/bin:${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

mkdir -p "$DATA/$BUCKET"
pids=()
stop() {
  trap - INT TERM EXIT
  for pid in "${pids[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop INT TERM EXIT

setsid s3s-fs --host 127.0.0.1 --port "$S3_PORT" --access-key local-access-key --secret-key local-secret-key "$DATA" \
  >.local/s3s-fs.log 2>&1 &
pids+=($!)

setsid cargo lambda watch --ignore-changes -A 127.0.0.1 -P "$PORT" \
  --env-var "BUCKET_NAME=$BUCKET,SIGN_SECRET=$SECRET,AWS_ENDPOINT_URL_S3=http://127.0.0.1:$S3_PORT" \
  --env-var "AWS_ACCESS_KEY_ID=local-access-key,AWS_SECRET_ACCESS_KEY=local-secret-key,AWS_REGION=us-east-1" &
pids+=($!)

url="http://127.0.0.1:$PORT/lambda-url/mobway-receiver"
until curl -sf "$url/" >/dev/null 2>&1; do
  kill -0 "${pids[1]}" 2>/dev/null || { echo "cargo lambda watch stopped; see its output above" >&2; exit 1; }
  sleep 0.5
done

cat <<MSG

  The receiver is up at $url/webhook
  Objects land in $DATA/$BUCKET/ (an S3-compatible store on http://127.0.0.1:$S3_PORT)

  Send a signed sample, as mobway would:
    python3 scripts/mobway_send.py --secret $SECRET --url $url/webhook events/payloads/multi-vin.json
  See the objects:
    find $DATA/$BUCKET -type f
  Or invoke with an API Gateway event:
    cargo lambda invoke -A 127.0.0.1 -P $PORT mobway-receiver --data-file events/webhook-provider-sample.json

  Ctrl-C stops the function and the store.
MSG
wait
