#!/usr/bin/env bash
# Browser test of `vsearch serve`: indexes a temporary copy of a photo folder (split in subfolders a/ and b/ when
# flat), serves it, drives the page in headless Chromium (scripts/browser_test.mjs: browse grid, folder filter,
# viewer and similar images, board of pinned photos, crop search, reload from the URL, upload, phone width) and
# saves target/browser-test.png, -browse.png, -board.png, -crop.png and -phone.png. Then a second, short run
# (labels_test): the same folder indexed with the tiny CLIP fixture (tests/fixtures/clip-tiny) and a policy whose
# `hide` and `flag` labels have threshold 0, so every thumbnail must be blurred and badged, revealed by a first
# click and opened by a second (target/browser-test-labels.png). SKIP_LABELS=1 skips it. Then a third run (qdrant_test):
# the photos indexed into a Qdrant server started from ../shared/tools/qdrant and served from it with `vsearch serve
# --qdrant` (target/browser-test-qdrant.png). SKIP_QDRANT=1 skips it; without the Qdrant binary it fails unless
# VSEARCH_ALLOW_SKIP lists qdrant. Then the video run (video_test: a WebM and the photos it was made from; the
# frame's time on its card, its video's other frames under it, the viewer playing the video from the frame:
# target/browser-test-video.png). Skips are recorded for scripts/test.sh (scripts/skip.sh).
# Needs Debian's chromium (`apt-get install -y chromium`) and npm (playwright-core is installed under target/).
# Usage: scripts/browser_test.sh [PHOTO_FOLDER]      (default: sample_images, else ../shared/data/ukbench-14)
#        scripts/browser_test.sh --stand-in [FOLDER] (the server tests' stand-in collection: no model needed)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
source scripts/serve_temp.sh
source scripts/skip.sh
# `vsearch serve` reads its admin token from here: the page's analytics dashboard is tested with it.
export VSEARCH_ADMIN_TOKEN=${VSEARCH_ADMIN_TOKEN:-browser-test-admin-token}

chromium=${CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$chromium" ]; then
  echo "Chromium not found at $chromium: install Debian's chromium (apt-get install -y chromium) or set CHROMIUM" >&2
  exit 1
fi
export CHROMIUM=$chromium
# The admin token the servers start with (vsearch serve reads VSEARCH_ADMIN_TOKEN) and the review view uses.
export VSEARCH_ADMIN_TOKEN=${VSEARCH_ADMIN_TOKEN:-browser-test-admin-token}

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
  trap "stop_server || true; rm -rf '$work'" EXIT  # expanded now: the function's local is gone when it runs
  VSEARCH_INDEX_ARGS="--model-dir $work --policy $work/policy.toml" start_server "$@"
  PLAYWRIGHT_DIR="$root/$pw_dir" node scripts/browser_test.mjs --labels "$base/" "$root/target/browser-test-labels.png"
  stop_server
  rm -rf "$work"
  trap - EXIT
}

# The video run: a WebM made from two ukbench photos, and those photos, indexed with a frame every 2 s; the page
# shows the frame's time, lists the video's other frames under its best one and plays the video from the frame.
video_test() {
  local work
  work=$(mktemp -d)
  cp tests/fixtures/video/objects_2_3.webm "$work/"
  cp ../shared/data/ukbench-14/ukbench000{08,12}.jpg "$work/"
  trap "stop_server || true; rm -rf '$work'" EXIT  # expanded now: the function's local is gone when it runs
  VSEARCH_INDEX_ARGS="--model ${VSEARCH_MODEL:-efficientnet-lite0} --video-frames-every 2s" start_server "$work"
  PLAYWRIGHT_DIR="$root/$pw_dir" node scripts/browser_test.mjs --video "$base/" "$root/target/browser-test-video.png"
  stop_server
  rm -rf "$work"
  trap - EXIT
}

# The Qdrant run: a Qdrant server (../shared/tools/qdrant/qdrant, or $QDRANT_BIN) on free ports with temporary
# storage; the photos indexed into it and `vsearch serve --qdrant` over it; the same page test.
qdrant_test() {
  local bin=${QDRANT_BIN:-../shared/tools/qdrant/qdrant} qwork http grpc
  if [ ! -x "$bin" ]; then
    missing qdrant "the browser test's Qdrant run" "no Qdrant server binary at $bin (see the README's Qdrant section)"
    return
  fi
  qwork=$(mktemp -d)
  read -r http grpc < <(python3 -c 'import socket
ports = []
for _ in range(2):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); ports.append(s.getsockname()[1]); s.close()
print(*ports)')
  (cd "$qwork" && QDRANT__STORAGE__STORAGE_PATH="$qwork/storage" QDRANT__STORAGE__SNAPSHOTS_PATH="$qwork/snapshots" \
    QDRANT__SERVICE__HOST=127.0.0.1 QDRANT__SERVICE__HTTP_PORT=$http QDRANT__SERVICE__GRPC_PORT=$grpc \
    QDRANT__TELEMETRY_DISABLED=true exec "$root/$bin" >"$qwork/qdrant.log" 2>&1) &
  local qdrant_pid=$!
  trap "stop_server || true; kill $qdrant_pid 2>/dev/null || true; rm -rf '$qwork'" EXIT  # expanded now, as above
  for _ in $(seq 1 100); do http_ok "http://127.0.0.1:$http/readyz" && break; sleep 0.2; done
  VSEARCH_QDRANT="http://127.0.0.1:$grpc" start_server "$@"
  ADMIN_TOKEN=$VSEARCH_ADMIN_TOKEN PLAYWRIGHT_DIR="$root/$pw_dir" node scripts/browser_test.mjs "$base/" "$query_photo" "$root/target/browser-test-qdrant.png"
  stop_server
  kill "$qdrant_pid"; wait "$qdrant_pid" 2>/dev/null || true
  rm -rf "$qwork"
  trap - EXIT
}

trap 'stop_server || true' EXIT
start_server "$@"
# The analytics dashboard needs the admin token the server runs with (the stand-in server has none).
if [ "${1:-}" = "--stand-in" ]; then admin_token=""; else admin_token=$VSEARCH_ADMIN_TOKEN; fi
ADMIN_TOKEN=$admin_token PLAYWRIGHT_DIR="$root/$pw_dir" node scripts/browser_test.mjs "$base/" "$query_photo" "$root/target/browser-test.png"
stop_server
trap - EXIT
if [ "${1:-}" != "--stand-in" ]; then
  if [ "${SKIP_LABELS:-0}" = 1 ]; then record_skip SKIP_LABELS "the browser test's labels run" "SKIP_LABELS=1"; else labels_test "$@"; fi
  video_test
  if [ "${SKIP_QDRANT:-0}" = 1 ]; then record_skip SKIP_QDRANT "the browser test's Qdrant run" "SKIP_QDRANT=1"; else qdrant_test "$@"; fi
fi
