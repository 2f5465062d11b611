#!/usr/bin/env bash
# Runs every fuzz target (or those named) for SECONDS each (default 600), two at a time, on the
# committed seed corpus (fuzz/corpus/<target>, made from real archives by
# scripts/fuzz-seed-corpus.sh). Prints executions and findings per target; crashes land in
# fuzz/artifacts/<target>/ and must become regression tests.
# Usage: scripts/fuzz.sh [SECONDS] [target...]
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-600}; shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(des3_decrypt gunzip xbstream extract manifest conf binlog mycnf age_decrypt zstd record gtid)
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
# cargo fuzz needs nightly flags; the stable toolchain accepts them with RUSTC_BOOTSTRAP.
export RUSTC_BOOTSTRAP=1
cargo fuzz build -O
mkdir -p target/fuzz-logs
run() {
  local t=$1; mkdir -p "fuzz/corpus/$t" "fuzz/artifacts/$t"
  # A scratch copy of the corpus: new inputs found are not committed by accident.
  local work; work=$(mktemp -d); cp -r "fuzz/corpus/$t/." "$work/" 2>/dev/null || true
  cargo fuzz run -O "$t" "$work" -- -max_total_time="$SECS" -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="fuzz/artifacts/$t/" > "target/fuzz-logs/$t.log" 2>&1 || true
  rm -rf "$work"
  local execs; execs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "target/fuzz-logs/$t.log" | awk '{print $2}' | tail -1)
  local crashes; crashes=$(find "fuzz/artifacts/$t" -type f | wc -l)
  printf '%-14s %8ss  executions %12s  findings %s\n' "$t" "$SECS" "${execs:-?}" "$crashes"
}
pids=()
for t in "${TARGETS[@]}"; do
  run "$t" & pids+=($!)
  if [ ${#pids[@]} -ge 2 ]; then wait "${pids[0]}"; pids=("${pids[@]:1}"); fi
done
wait
