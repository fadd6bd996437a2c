#!/usr/bin/env bash
# Browser test of `vsearch serve`: indexes a temporary copy of a photo folder, serves it, drives the page in
# headless Chromium (scripts/browser_test.mjs: upload, thumbnails, click a result, new results, phone width) and
# saves target/browser-test.png and target/browser-test-phone.png.
# Needs Debian's chromium (`apt-get install -y chromium`) and npm (playwright-core is installed under target/).
# Usage: scripts/browser_test.sh [PHOTO_FOLDER]      (default: sample_images, else ../shared/data/ukbench-14)
#        scripts/browser_test.sh --stand-in [FOLDER] (the server tests' stand-in collection: no model needed)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
source scripts/serve_temp.sh

pw_dir=target/browser-test
if [ ! -d "$pw_dir/node_modules/playwright-core" ]; then
  mkdir -p "$pw_dir"
  npm install --prefix "$pw_dir" --no-audit --no-fund --silent playwright-core@1 >/dev/null
fi

trap 'stop_server || true' EXIT
start_server "$@"
PLAYWRIGHT_DIR="$root/$pw_dir" node scripts/browser_test.mjs "$base/" "$query_photo" "$root/target/browser-test.png"
stop_server
trap - EXIT
