#!/usr/bin/env bash
# Browser test of `vsearch serve`: indexes a temporary copy of a photo folder (split in subfolders a/ and b/ when
# flat), serves it, drives the page in headless Chromium (scripts/browser_test.mjs: browse grid, folder filter,
# viewer and similar images, board of pinned photos, crop search, reload from the URL, upload, phone width) and
# saves target/browser-test.png, -browse.png, -board.png, -crop.png and -phone.png.
# Needs Debian's chromium (`apt-get install -y chromium`) and npm (playwright-core is installed under target/).
# Usage: scripts/browser_test.sh [PHOTO_FOLDER]      (default: sample_images, else ../shared/data/ukbench-14)
#        scripts/browser_test.sh --stand-in [FOLDER] (the server tests' stand-in collection: no model needed)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
source scripts/serve_temp.sh

chromium=${CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$chromium" ]; then
  echo "Chromium not found at $chromium: install Debian's chromium (apt-get install -y chromium) or set CHROMIUM" >&2
  exit 1
fi
export CHROMIUM=$chromium

# playwright-core only drives the browser: it downloads none (pinned, so a new release cannot change the test).
pw_version=1.65.1
pw_dir=target/browser-test
if [ "$(node -p "try { require('./$pw_dir/node_modules/playwright-core/package.json').version } catch { '' }")" != "$pw_version" ]; then
  mkdir -p "$pw_dir"
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --prefix "$pw_dir" --no-audit --no-fund --no-save --silent \
    "playwright-core@$pw_version" >/dev/null
fi

trap 'stop_server || true' EXIT
start_server "$@"
PLAYWRIGHT_DIR="$root/$pw_dir" node scripts/browser_test.mjs "$base/" "$query_photo" "$root/target/browser-test.png"
stop_server
trap - EXIT
