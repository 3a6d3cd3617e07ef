# Entry points: `make run` (the function locally) and `make test` (every test). Both install what they need.
SHELL := /bin/bash
export PATH := $(CURDIR)/.venv/bin:$(HOME)/.cargo/bin:$(PATH)

.PHONY: setup run test lint test-rust test-template build-arm64 events clean-local bench bench-handler bench-s3 bench-processes bench-sizes bench-profile fuzz

setup:
	@scripts/setup.sh

run: setup
	@scripts/run-local.sh

test: setup lint test-rust test-template

lint:
	cargo fmt --check
	cargo clippy --locked --workspace --all-targets -- -D warnings

test-rust:
	cargo test --locked --workspace

test-template:
	.venv/bin/python -m pytest -q tests/template

build-arm64: setup
	cargo lambda build --release --arm64 --bin mobway-receiver
	@ls -l target/lambda/mobway-receiver/bootstrap

events:
	python3 scripts/make_events.py

clean-local:
	rm -rf .local

# Benchmarks (not part of `make test`): see BENCHMARKS.md for the figures and what each measures.
bench: bench-handler bench-s3 bench-processes bench-sizes

bench-handler:
	cargo bench -p mobway-receiver-bench --bench handler

# CPU of one delivery's S3 writes against s3s-fs, payload signed and not.
bench-s3: setup
	cargo bench -p mobway-receiver-bench --bench s3_writes

bench-processes: setup
	.venv/bin/pip install --quiet --disable-pip-version-check -r bench/requirements.txt
	cargo build --release --bin mobway-receiver
	.venv/bin/python bench/run_benchmarks.py

# Where the function's CPU goes, by perf; needs Linux perf. Not part of `make bench`.
bench-profile: setup
	.venv/bin/python bench/profile_breakdown.py

bench-sizes: setup
	cargo build --release --bin mobway-receiver
	cargo lambda build --release --arm64 --bin mobway-receiver
	@stat -c '%s bytes  x86-64  target/release/mobway-receiver' target/release/mobway-receiver
	@stat -c '%s bytes  arm64   target/lambda/mobway-receiver/bootstrap' target/lambda/mobway-receiver/bootstrap

# Fuzzing with cargo-fuzz on the stable toolchain (RUSTC_BOOTSTRAP lets it pass libFuzzer's flags).
# FUZZ_TARGET=signature_header or split_batch; FUZZ_SECONDS bounds the run.
FUZZ_TARGET ?= split_batch
FUZZ_SECONDS ?= 600
fuzz:
	command -v cargo-fuzz >/dev/null || cargo install --locked cargo-fuzz
	RUSTC_BOOTSTRAP=1 cargo fuzz run -O $(FUZZ_TARGET) -- -max_total_time=$(FUZZ_SECONDS)
