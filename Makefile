# Entry points: `make run` (the function locally) and `make test` (every test). Both install what they need.
SHELL := /bin/bash
export PATH := $(CURDIR)/.venv/bin:$(HOME)/.cargo/bin:$(PATH)

.PHONY: setup run test lint test-rust test-template build-arm64 events clean-local

setup:
	@scripts/setup.sh

run: setup
	@scripts/run-local.sh

test: setup lint test-rust test-template

lint:
	cargo fmt --check
	cargo clippy --locked --all-targets -- -D warnings

test-rust:
	cargo test --locked

test-template:
	.venv/bin/python -m pytest -q tests/template

build-arm64: setup
	cargo lambda build --release --arm64 --bin mobway-receiver
	@ls -l target/lambda/mobway-receiver/bootstrap

events:
	python3 scripts/make_events.py

clean-local:
	rm -rf .local
