#!/usr/bin/env python3
"""Runs the benchmarks that need real processes, and prints each figure for BENCHMARKS.md.

  cpu       our release build under `cargo lambda watch` (with s3s-fs) against the provider-style Python receiver
            (Flask under gunicorn, 2 workers): CPU time per request of each side's own processes, same payloads
  allocator the function's malloc settings against glibc's defaults: CPU and page faults per request under load,
            and CPU per delivery when deliveries come more than a second apart
  memory    peak RSS of the function process after a 6 MB delivery
  overlap   a 50-VIN batch against a 1-VIN batch with 50 ms added to every S3 request by a delaying proxy
  coldstart time from starting `cargo lambda watch` (binary already built) to the first answered request,
            and from the function process's start to that answer

Everything listens on 127.0.0.1; every load loop is bounded in time. Run from the repository root via `make bench`.
"""

import argparse
import hashlib
import hmac
import http.client
import json
import os
import pathlib
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import asyncio

ROOT = pathlib.Path(__file__).resolve().parent.parent
SECRET = "bench-secret"
CLK_TCK = os.sysconf("SC_CLK_TCK")
SIZES = [("1x2", 1, 2), ("10x50", 10, 50), ("50x100", 50, 100)]


def payload(vins, records):
    """A body built like the provider's sample; the same generator as benches/handler.rs."""
    entries = []
    for v in range(vins):
        vin = f"6AHFT68CKAF{v:06d}"
        items = []
        for r in range(records):
            second, minute = r % 60, (r // 60) % 60
            items.append(
                f'{{"vin": "{vin}", "date_time": "2023-02-14 09:{minute:02d}:{second:02d}", "speed": {100 + r % 100}.78, '
                f'"latitude": 56.0{r:05d}, "longitude": -177.689265, "heading": 357.92, "rpm": 3737.16, '
                '"odometer": 806942.06, "fuel_level": 79.79, "range": -75.68, "left_front_tire_pressure": 31.66, '
                '"right_front_tire_pressure": 31.95, "left_rear_tire_pressure": 31.17, '
                '"right_rear_tire_pressure": 31.88, "oil_level": 15.28, "engine_cooling_temperature": 11.4, '
                '"lv_battery_voltage": null, "hv_battery_voltage": 596.41, "hv_battery_soc": 38.48, '
                '"hv_battery_charging_status": "other", "seat_belt_status": "not buckled", '
                '"event": "charging plug status change", '
                '"flag": {"lv_battery_voltage": {"value": 35.44, "flag": "out of range"}}}'
            )
        entries.append(f'"{vin}": [{", ".join(items)}]')
    return ("{" + ", ".join(entries) + "}").encode()


def sign(body):
    return hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(port, path, limit=600):
    deadline = time.time() + limit
    while time.time() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", path)
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"nothing answered on 127.0.0.1:{port}{path} within {limit} s")


def cpu_seconds(pids):
    """CPU time used so far by the processes, all their threads, in seconds (nanosecond resolution)."""
    total = 0
    for pid in pids:
        for task in pathlib.Path(f"/proc/{pid}/task").glob("*"):
            try:
                total += int((task / "schedstat").read_text().split()[0])  # time on a CPU, in ns
            except (FileNotFoundError, ProcessLookupError):
                pass
    return total / 1e9


def pids_matching(pattern):
    out = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True).stdout.split()
    return [int(pid) for pid in out if int(pid) != os.getpid()]


def deliver(port, path, body):
    """Sends one signed delivery and waits for its answer, which must be 200; returns the answer's JSON."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("POST", path, body=body, headers={"Content-Type": "application/json", "X-Signature": sign(body)})
    response = conn.getresponse()
    answer = response.read()
    if response.status != 200:
        raise SystemExit(f"a delivery failed with {response.status}: {answer[:200]!r}")
    conn.close()
    return json.loads(answer)


def load(port, path, body, seconds, threads=4):
    """Sends the signed body from several keep-alive connections for a bounded time; returns the request count."""
    signature = sign(body)
    headers = {"Content-Type": "application/json", "X-Signature": signature}
    deadline = time.time() + seconds
    counts = [0] * threads
    failures = []

    def worker(n):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while time.time() < deadline:
            conn.request("POST", path, body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            if response.status != 200:
                failures.append(response.status)
                return
            counts[n] += 1

    workers = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    if failures:
        raise SystemExit(f"a request failed with {failures[0]}")
    return sum(counts)


class Services:
    """Starts processes in their own process groups and stops them all at the end."""

    def __init__(self):
        self.processes = []

    def start(self, args, env=None, cwd=ROOT, log=None):
        process = subprocess.Popen(
            args, cwd=cwd, env={**os.environ, **(env or {})}, stdout=log or subprocess.DEVNULL,
            stderr=subprocess.STDOUT, start_new_session=True,
        )
        self.processes.append(process)
        return process

    def stop(self, process):
        try:
            os.killpg(process.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        process.wait(timeout=30)

    def stop_all(self):
        for process in reversed(self.processes):
            if process.poll() is None:
                self.stop(process)


def start_store(services, data):
    port = free_port()
    os.makedirs(os.path.join(data, "bench"), exist_ok=True)
    services.start(["s3s-fs", "--host", "127.0.0.1", "--port", str(port), "--access-key", "bench", "--secret-key",
                    "bench-secret-key", data])
    deadline = time.time() + 10
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return port
        time.sleep(0.05)
    raise SystemExit("s3s-fs did not start")


def start_function(services, s3_endpoint, log=None, extra_env=()):
    port = free_port()
    env_vars = ",".join([
        "BUCKET_NAME=bench", f"SIGN_SECRET={SECRET}", f"AWS_ENDPOINT_URL_S3={s3_endpoint}",
        "AWS_ACCESS_KEY_ID=bench", "AWS_SECRET_ACCESS_KEY=bench-secret-key", "AWS_REGION=us-east-1",
        "AWS_LAMBDA_LOG_LEVEL=WARN", *extra_env,
    ])
    started = time.time()
    process = services.start(["cargo", "lambda", "watch", "--release", "--ignore-changes", "-A", "127.0.0.1",
                              "-P", str(port), "--env-vars", env_vars], log=log)
    wait_http(port, "/lambda-url/mobway-receiver/")
    answered = time.time()
    return process, port, started, answered


def function_pid(known=()):
    """The process id of the function that `cargo lambda watch` started, leaving out ones already known."""
    pids = [pid for pid in pids_matching("/release/mobway-receiver") if pid not in known]
    if not pids:
        raise SystemExit("the function process was not found")
    return pids[0]


def start_python(services, module, env):
    """Serves bench/python/<module>.py with gunicorn, 2 workers, warning level; returns its port and process ids."""
    port = free_port()
    gunicorn = services.start(
        [str(ROOT / ".venv/bin/gunicorn"), "-w", "2", "-b", f"127.0.0.1:{port}", "--log-level", "warning",
         "--chdir", str(ROOT / "bench/python"), f"{module}:app"],
        env={"SIGN_SECRET": SECRET, **env},
    )
    wait_http(port, "/")
    workers = subprocess.run(["pgrep", "-P", str(gunicorn.pid)], capture_output=True, text=True).stdout.split()
    return port, [gunicorn.pid] + [int(pid) for pid in workers]


def cpu_per_request(port, path, body, seconds, *groups):
    """Loads one receiver for a bounded time; returns the CPU milliseconds per request of each group of processes."""
    before = [cpu_seconds(pids) for pids in groups]
    count = load(port, path, body, seconds)
    after = [cpu_seconds(pids) for pids in groups]
    return [(a - b) * 1000 / count for a, b in zip(after, before)]


def cpu_comparison(services, store_port, seconds, rounds):
    print("## CPU per request: our function vs the provider-style Python receiver, and vs one doing the same work\n")
    store = f"http://127.0.0.1:{store_port}"
    _, port, _, _ = start_function(services, store)
    ours = function_pid()
    watch_pids = pids_matching("cargo-lambda lambda watch")
    store_pids = pids_matching("s3s-fs --host 127.0.0.1")
    example_port, example_pids = start_python(services, "receiver", {})
    storing_port, storing_pids = start_python(services, "storing_receiver", {
        "BUCKET_NAME": "bench", "AWS_ENDPOINT_URL_S3": store, "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench-secret-key", "AWS_DEFAULT_REGION": "us-east-1",
    })
    print(f"{rounds} rounds of {seconds:g} s per payload and side; each figure is the median of the rounds.\n")
    print("| payload | bytes | our function CPU ms/req | emulator ms/req | s3s-fs ms/req (ours) "
          "| provider-style Python ms/req | ours / provider-style | storing Python ms/req | ours / storing |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for label, vins, records in SIZES:
        body = payload(vins, records)
        ours_answer = deliver(port, "/lambda-url/mobway-receiver/webhook", body)
        storing_answer = deliver(storing_port, "/webhook", body)
        same_work = ("batch_id", "records", "objects")
        if [ours_answer[k] for k in same_work] != [storing_answer[k] for k in same_work]:
            raise SystemExit(f"the storing receiver did different work: {storing_answer} against ours {ours_answer}")
        samples = {"ours": [], "watch": [], "store": [], "example": [], "storing": []}
        for _ in range(rounds):
            ours_ms, watch_ms, store_ms = cpu_per_request(
                port, "/lambda-url/mobway-receiver/webhook", body, seconds, [ours], watch_pids, store_pids)
            samples["ours"].append(ours_ms)
            samples["watch"].append(watch_ms)
            samples["store"].append(store_ms)
            samples["example"] += cpu_per_request(example_port, "/webhook", body, seconds, example_pids)
            samples["storing"] += cpu_per_request(storing_port, "/webhook", body, seconds, storing_pids)
        m = {name: statistics.median(values) for name, values in samples.items()}
        print(f"| {label} | {len(body)} | {m['ours']:.3f} | {m['watch']:.3f} | {m['store']:.3f} | {m['example']:.3f} "
              f"| {m['ours'] / m['example']:.2f} | {m['storing']:.3f} | {m['ours'] / m['storing']:.2f} |", flush=True)
    print()


def page_faults(pid):
    return int(pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[7])  # minflt


def allocator(services, store_port, seconds, rounds, deliveries=10, gap=1.2):
    print("## The function's malloc settings against glibc's defaults\n")
    print(f"The function as shipped beside the same build with glibc's malloc defaults (any `GLIBC_TUNABLES` makes it "
          f"leave malloc alone), alternating: under load ({rounds} rounds of {seconds:g} s, medians), and one delivery "
          f"at a time, {gap:g} s apart, as when traffic is light (medians of {deliveries}).\n")
    store = f"http://127.0.0.1:{store_port}"
    _, shipped_port, _, _ = start_function(services, store)
    shipped = function_pid()
    _, default_port, _, _ = start_function(services, store, extra_env=["GLIBC_TUNABLES=glibc.malloc.perturb=0"])
    defaults = function_pid(known=[shipped])
    sides = [(shipped_port, shipped), (default_port, defaults)]
    path = "/lambda-url/mobway-receiver/webhook"
    print("| payload | under load: shipped, CPU ms/req | glibc defaults | defaults / shipped | page faults/req, "
          "shipped | glibc defaults | one at a time: shipped, CPU ms | glibc defaults | defaults / shipped |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for label, vins, records in SIZES:
        body = payload(vins, records)
        loaded, faults, alone = ([[], []] for _ in range(3))
        # Each round and each delivery swaps which side goes first, so neither always follows the other or the pause.
        for round_number in range(rounds):
            for side in (0, 1)[::1 if round_number % 2 == 0 else -1]:
                port, pid = sides[side]
                faults_before, cpu_before = page_faults(pid), cpu_seconds([pid])
                count = load(port, path, body, seconds)
                loaded[side].append((cpu_seconds([pid]) - cpu_before) * 1000 / count)
                faults[side].append((page_faults(pid) - faults_before) / count)
        for delivery in range(deliveries):
            for side in (0, 1)[::1 if delivery % 2 == 0 else -1]:
                time.sleep(gap)
                port, pid = sides[side]
                before = cpu_seconds([pid])
                deliver(port, path, body)
                alone[side].append((cpu_seconds([pid]) - before) * 1000)
        (l_ours, l_def), (f_ours, f_def), (a_ours, a_def) = (
            [statistics.median(values) for values in pair] for pair in (loaded, faults, alone))
        print(f"| {label} | {l_ours:.3f} | {l_def:.3f} | {l_def / l_ours:.2f} | {f_ours:.0f} | {f_def:.0f} "
              f"| {a_ours:.3f} | {a_def:.3f} | {a_def / a_ours:.2f} |", flush=True)
    print()


def memory(services, store_port, deliveries=30):
    print("## Peak memory for 6 MB deliveries\n")
    _, port, _, _ = start_function(services, f"http://127.0.0.1:{store_port}")
    pid = function_pid()

    def status(field):
        return int(pathlib.Path(f"/proc/{pid}/status").read_text().split(field)[1].split()[0]) / 1024

    idle = status("VmRSS:")
    # 6 MB is the most API Gateway passes to a Lambda synchronously; 17 VINs x 500 records comes just under it.
    body = payload(17, 500)
    assert len(body) <= 6 * 1024 * 1024, len(body)
    deliver(port, "/lambda-url/mobway-receiver/webhook", body)
    first = status("VmHWM:")
    for _ in range(deliveries - 1):
        deliver(port, "/lambda-url/mobway-receiver/webhook", body)
    print(f"- body: {len(body)} bytes; function RSS after start: {idle:.1f} MiB; peak RSS after the first delivery: "
          f"{first:.1f} MiB; after {deliveries}: {status('VmHWM:'):.1f} MiB; RSS once answered: {status('VmRSS:'):.1f} MiB\n")


class DelayingProxy:
    """An HTTP/1.1 proxy that holds every request for `delay` seconds before passing it to the store."""

    def __init__(self, upstream_port, delay):
        self.upstream_port, self.delay = upstream_port, delay
        self.port = free_port()
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        asyncio.run_coroutine_threadsafe(self._serve(), self.loop).result()

    async def _serve(self):
        self.server = await asyncio.start_server(self._client, "127.0.0.1", self.port)

    @staticmethod
    async def _message(reader):
        head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        return head + (await reader.readexactly(length) if length else b"")

    async def _client(self, reader, writer):
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        try:
            while True:
                request = await self._message(reader)
                await asyncio.sleep(self.delay)
                up_writer.write(request)
                await up_writer.drain()
                writer.write(await self._message(up_reader))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
            up_writer.close()


def overlap(services, store_port, runs=7):
    print("## Overlapping writes with 50 ms added to every S3 request\n")
    proxy = DelayingProxy(store_port, 0.050)
    _, port, _, _ = start_function(services, f"http://127.0.0.1:{proxy.port}")
    timings = {}
    for label, vins in [("1 VIN", 1), ("50 VINs", 50)]:
        samples = []
        for run in range(runs):
            body = payload(vins, 2).replace(b"09:00:00", f"09:00:{run:02d}".encode())
            started = time.perf_counter()
            deliver(port, "/lambda-url/mobway-receiver/webhook", body)
            samples.append(time.perf_counter() - started)
        timings[label] = statistics.median(samples)
        print(f"- {label} ({vins + 1} objects): median {timings[label] * 1000:.0f} ms over {runs} deliveries")
    print(f"- ratio 50 VINs / 1 VIN: {timings['50 VINs'] / timings['1 VIN']:.2f}\n")


def cold_start(services, store_port, runs=5):
    print("## Cold start under cargo lambda watch (release build, binary already built)\n")
    total, own = [], []
    for _ in range(runs):
        process, _, started, answered = start_function(services, f"http://127.0.0.1:{store_port}")
        pid = function_pid()
        # Both in seconds since boot: the process's start (in clock ticks) and the moment of the first answer.
        answered_since_boot = float(pathlib.Path("/proc/uptime").read_text().split()[0]) - (time.time() - answered)
        start_ticks = int(pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
        total.append(answered - started)
        own.append(answered_since_boot - start_ticks / CLK_TCK)
        services.stop(process)
    print(f"- `cargo lambda watch` start to first answer: median {statistics.median(total) * 1000:.0f} ms "
          f"over {runs} starts")
    print(f"- function process start to first answer: median {statistics.median(own) * 1000:.0f} ms "
          f"(process start time has {1000 // CLK_TCK} ms resolution)\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("parts", nargs="*", default=["cpu", "allocator", "memory", "overlap", "coldstart"])
    parser.add_argument("--seconds", type=float, default=5, help="load time per round, payload size and side")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the CPU comparison, alternating sides")
    args = parser.parse_args()
    for tool in ("s3s-fs", "cargo-lambda"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} is missing: run `make setup` first")
    services = Services()
    # The store keeps its files in memory where it can, so that disk write-back does not disturb the figures.
    data = tempfile.mkdtemp(prefix="mobway-bench-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    try:
        store_port = start_store(services, data)
        for part in args.parts:
            {"cpu": lambda: cpu_comparison(services, store_port, args.seconds, args.rounds),
             "allocator": lambda: allocator(services, store_port, args.seconds, args.rounds),
             "memory": lambda: memory(services, store_port),
             "overlap": lambda: overlap(services, store_port),
             "coldstart": lambda: cold_start(services, store_port)}[part]()
            for process in services.processes[1:]:
                if process.poll() is None:
                    services.stop(process)
    finally:
        services.stop_all()
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
