#!/usr/bin/env bash
# Installs what the local run and the tests need, on a fresh machine or an existing one. Safe to run again.
#   .venv/              cargo-lambda (with zig), cfn-lint, aws-sam-translator, pytest, pinned in requirements-dev.txt
#   ~/.cargo/bin/s3s-fs the local S3-compatible server the tests and `make run` start
#   aarch64 Rust target for the arm64 Lambda build
set -euo pipefail
cd "$(dirname "$0")/.."

S3S_FS_VERSION=0.14.1

command -v cargo >/dev/null || { echo "cargo is needed: install Rust from rustup first" >&2; exit 1; }
command -v python3 >/dev/null || { echo "python3 (3.9 or newer) is needed" >&2; exit 1; }

if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv"
  python3 -m venv .venv
fi
if ! cmp -s requirements-dev.txt .venv/.installed-requirements; then
  echo "==> installing Python tools from requirements-dev.txt"
  .venv/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
  cp requirements-dev.txt .venv/.installed-requirements
fi

s3s_fs="$(command -v s3s-fs || echo "${CARGO_HOME:-$HOME/.cargo}/bin/s3s-fs")"
if ! "$s3s_fs" --version 2>/dev/null | grep -qx "s3s-fs $S3S_FS_VERSION"; then
  echo "==> installing s3s-fs $S3S_FS_VERSION (a few minutes, once)"
  cargo install --locked "s3s-fs@$S3S_FS_VERSION" --features binary
fi

if command -v rustup >/dev/null && ! rustup target list --installed | grep -qx aarch64-unknown-linux-gnu; then
  echo "==> adding the aarch64-unknown-linux-gnu Rust target"
  rustup target add aarch64-unknown-linux-gnu
fi
