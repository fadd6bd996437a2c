#!/usr/bin/env bash
# Browser test of `vsearch serve`: indexes a temporary copy of a photo folder (split in subfolders a/ and b/ when
# flat), serves it, drives the page in headless Chromium (scripts/browser_test.mjs: browse grid, folder filter,
# viewer and similar images, board of pinned photos, crop search, reload from the URL, upload, phone width) and
# saves target/browser-test.png, -browse.png, -board.png, -crop.png and -phone.png. Then a second, short run
# (labels_test): the same folder indexed with the tiny CLIP fixture (tests/fixtures/clip-tiny) and a policy whose
# `hide` and `flag` labels have threshold 0, so every thumbnail must be blurred and badged, revealed by a first
# click and opened by a second (target/browser-test-labels.png). SKIP_LABELS=1 skips it.
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

# The labels run: the photos indexed with the tiny CLIP fixture under a policy that hides and flags everything.
labels_test() {
  local work
  work=$(mktemp -d)
  cp tests/fixtures/clip-tiny/{config.json,model.safetensors,preprocessor_config.json} "$work/"
  gzip -dc tests/fixtures/clip-tiny/tokenizer.json.gz >"$work/tokenizer.json"
  cat >"$work/policy.toml" <<'TOML'
[[label]]
name = "everything"
prompts = ["a photo"]
opposite = ["a drawing"]
threshold = 0.0
action = "hide"

[[label]]
name = "tagged"
prompts = ["a photo of a thing"]
opposite = ["a photo of nothing"]
threshold = 0.0
action = "flag"
TOML
  trap 'stop_server || true; rm -rf "$work"' EXIT
  VSEARCH_INDEX_ARGS="--model-dir $work --policy $work/policy.toml" start_server "$@"
  PLAYWRIGHT_DIR="$root/$pw_dir" node scripts/browser_test.mjs --labels "$base/" "$root/target/browser-test-labels.png"
  stop_server
  rm -rf "$work"
  trap - EXIT
}

trap 'stop_server || true' EXIT
start_server "$@"
PLAYWRIGHT_DIR="$root/$pw_dir" node scripts/browser_test.mjs "$base/" "$query_photo" "$root/target/browser-test.png"
stop_server
trap - EXIT
if [ "${1:-}" != "--stand-in" ] && [ "${SKIP_LABELS:-0}" != 1 ]; then labels_test "$@"; fi
