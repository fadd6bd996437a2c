#!/usr/bin/env bash
# The README's main job: installs what is missing (Debian packages, once), builds vsearch, indexes
# sample_images/ with the default model (`auto`: CLIP ViT-B/32 when it can be had, else EfficientNet-Lite0)
# and serves it. The server prints the address to open once it listens (http://127.0.0.1:8080/ by default).
# Usage: scripts/demo.sh [FOLDER] [-- extra `vsearch serve` options, e.g. --addr 127.0.0.1:0]
set -euo pipefail
cd "$(dirname "$0")/.."
folder=sample_images
if [ $# -gt 0 ] && [ "$1" != -- ]; then folder=$1; shift; fi
[ "${1:-}" = -- ] && shift

bash scripts/install_system_deps.sh --build-only
cargo build --release --locked --bin vsearch
./target/release/vsearch index "$folder"
exec ./target/release/vsearch serve --collection "$folder" "$@"
