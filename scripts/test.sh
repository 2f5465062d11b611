#!/usr/bin/env bash
# Sets up the machine (scripts/setup.sh --test) and runs every check and test: fmt, clippy, unit and
# integration tests (real MariaDB, mariabackup, moto S3, openssl, tar), and builds the benches
# and fuzz targets.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
export MOTO_SERVER="$PWD/.venv/bin/moto_server"
cargo fmt --all -- --check
cargo clippy --all-targets --locked -- -D warnings
cargo build --benches --locked
cargo build -p mysqlbackup-fuzz --locked   # the fuzz targets build (scripts/fuzz.sh runs them)
cargo test --locked --no-fail-fast 2>&1 | tee target/test-output.txt
