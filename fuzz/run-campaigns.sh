#!/usr/bin/env bash
# Runs each named fuzz target for SECONDS (default 600), one after another, niced, and keeps
# libFuzzer's log per target in fuzz/logs/. Needs cargo-fuzz and a nightly toolchain (or
# RUSTC_BOOTSTRAP=1 on stable). Usage: fuzz/run-campaigns.sh [SECONDS] TARGET...
set -uo pipefail
cd "$(dirname "$0")"
secs="${1:-600}"; shift
mkdir -p logs
for t in "$@"; do
    mkdir -p "corpus/$t"
    nice -n 19 cargo +nightly fuzz run -s none "$t" "corpus/$t" -- \
        -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
        > "logs/$t.log" 2>&1
    echo "$t exited $?" >> logs/summary.txt
done
