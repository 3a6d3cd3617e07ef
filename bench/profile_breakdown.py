#!/usr/bin/env python3
"""Where our function's CPU goes: `perf record` on the function process under load, for each payload size.

The release build is built with line tables (and not stripped) into target/bench-profile, run under
`cargo lambda watch` against s3s-fs as in the `cpu` part of run_benchmarks.py, and loaded for a bounded time while
perf samples it with DWARF call stacks. Each sample goes to the group of the innermost frame in its stack that
belongs to one (a frame matching two goes to the first of them):

  S3 writes          the AWS SDK: request building, endpoint, signing, checksum, the HTTP client and its socket calls
  event decoding     the API Gateway event's JSON, with the body as an escaped string, decoded into the request
  receiver           our own code: route, signature, batch id, split, keys, response, logs and metrics
  runtime client     the Lambda runtime client: fetching the event, posting the answer
  idle wake-ups      the async runtime waiting for and waking on sockets
  other              anything else (allocator calls are counted with whoever called them)

Needs Linux perf (`apt-get install linux-perf`) and permission to use it. Run from the repository root via
`make bench-profile`; it is not part of `make bench`.
"""

import collections
import os
import re
import shutil
import subprocess
import sys
import tempfile
import signal
import time

import run_benchmarks as bench

GROUPS = [
    ("S3 writes", re.compile(r"aws_smithy|aws_sdk_s3|aws_sigv4|aws_runtime")),
    ("event decoding", re.compile(r"mobway_receiver::event|lambda_runtime::deserializer")),
    ("receiver", re.compile(r"mobway_receiver::(?!main\b)")),
    ("runtime client", re.compile(r"lambda_runtime|lambda_http|aws_lambda_events")),
    ("idle wake-ups", re.compile(r"park|epoll_wait")),
]
TARGET_DIR = bench.ROOT / "target" / "bench-profile"
PROFILE_ENV = {
    "CARGO_TARGET_DIR": str(TARGET_DIR),
    "CARGO_PROFILE_RELEASE_STRIP": "false",
    "CARGO_PROFILE_RELEASE_DEBUG": "line-tables-only",
}


def stacks(perf_data):
    """Yields each sample's stack as one string of symbol names."""
    script = subprocess.run(["perf", "script", "-i", perf_data, "-F", "ip,sym"], capture_output=True, text=True,
                            check=True).stdout
    for sample in script.split("\n\n"):
        if sample.strip():
            yield sample


def group_of(stack):
    """The group of the innermost frame that belongs to one: the part of the function that was running."""
    for frame in stack.splitlines():  # innermost frame first
        for name, pattern in GROUPS:
            if pattern.search(frame):
                return name
    return "other"


def breakdown(perf_data):
    return collections.Counter(group_of(stack) for stack in stacks(perf_data))


def main():
    if not shutil.which("perf"):
        raise SystemExit("perf is missing: install it with `sudo apt-get install linux-perf`")
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 5
    os.environ.update(PROFILE_ENV)
    subprocess.run(["cargo", "build", "--release", "--bin", "mobway-receiver"], cwd=bench.ROOT, check=True)
    services = bench.Services()
    data = tempfile.mkdtemp(prefix="mobway-profile-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    try:
        store_port = bench.start_store(services, data)
        _, port, _, _ = bench.start_function(services, f"http://127.0.0.1:{store_port}")
        pid = bench.function_pid()
        names = [name for name, _ in GROUPS] + ["other"]
        print("CPU ms per request of the function process, by where it was spent (perf samples, DWARF stacks)\n")
        print("| payload | CPU ms/req | " + " | ".join(names) + " |")
        print("| --- | --- | " + " | ".join("---" for _ in names) + " |")
        for label, vins, records in bench.SIZES:
            body = bench.payload(vins, records)
            bench.deliver(port, "/lambda-url/mobway-receiver/webhook", body)
            # CPU per request is measured without perf attached; the shares come from a second run under perf.
            before = bench.cpu_seconds([pid])
            count = bench.load(port, "/lambda-url/mobway-receiver/webhook", body, seconds)
            per_request = (bench.cpu_seconds([pid]) - before) * 1000 / count
            perf_data = os.path.join(data, f"perf-{label}.data")
            recorder = subprocess.Popen(["perf", "record", "-q", "-F", "1999", "--call-graph", "dwarf,16384", "-p",
                                         str(pid), "-o", perf_data], stdout=subprocess.DEVNULL)
            time.sleep(0.5)
            bench.load(port, "/lambda-url/mobway-receiver/webhook", body, seconds)
            recorder.send_signal(signal.SIGINT)
            recorder.wait(timeout=60)
            counts = breakdown(perf_data)
            total = sum(counts.values())
            shares = [per_request * counts[name] / total for name in names]
            print(f"| {label} | {per_request:.3f} | " + " | ".join(f"{ms:.3f} ({100 * ms / per_request:.0f}%)"
                                                              for ms in shares) + " |", flush=True)
            os.remove(perf_data)
        print()
    finally:
        services.stop_all()
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
