# Sourced by scripts/browser_test.sh and scripts/schemathesis.sh: serves a temporary copy of a photo folder on a
# free port. `start_server [--stand-in] [FOLDER]` sets $base (http://127.0.0.1:PORT), $server_pid and $query_photo
# (the first .jpg in name order, at any depth);
# the caller's EXIT trap should call stop_server. FOLDER defaults to sample_images (else ../shared/data/ukbench-14).
# --stand-in serves the server tests' stand-in collection (colour histograms, no model needed) instead of
# `vsearch index` + `vsearch serve`. The real path indexes with $VSEARCH_MODEL (default efficientnet-lite0, whose
# weights `vsearch models fetch efficientnet-lite0` puts in the model cache): naming the model keeps `auto` from
# probing or downloading CLIP from the Hugging Face hub; $VSEARCH_INDEX_ARGS replaces `--model ...` (the labels
# run of the browser test indexes with the tiny CLIP fixture and a test policy); with $VSEARCH_QDRANT (a Qdrant gRPC
# URL) the photos are indexed into a new collection of that server and served from it. $VSEARCH_BIN names a
# vsearch binary to run instead of building one. Needs python3 (free port, health check), not curl.

# Succeeds when URL answers 2xx.
http_ok() {
  python3 - "$1" <<'PY' 2>/dev/null
import sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=2) as r:
    sys.exit(0 if 200 <= r.status < 300 else 1)
PY
}

# A flat folder of photos is split in two subfolders, a/ and b/ (the image files in name order, alternately), so
# that folder filters have folders to tell apart; a folder that already has subfolders is left as it is. (The
# stand-in collection reads the top folder only, so --stand-in keeps it flat.)
split_photos() {
  local dir=$1 i=0 f
  if [ -n "$(find "$dir" -mindepth 1 -type d -not -name '.*' | head -1)" ]; then return 0; fi
  mkdir -p "$dir/a" "$dir/b"
  while IFS= read -r f; do
    if [ $((i % 2)) = 0 ]; then mv "$f" "$dir/a/"; else mv "$f" "$dir/b/"; fi
    i=$((i + 1))
  done < <(find "$dir" -maxdepth 1 -type f \( -iname '*.jpg' -o -iname '*.jpeg' -o -iname '*.png' -o -iname '*.webp' \
             -o -iname '*.gif' -o -iname '*.bmp' -o -iname '*.tif' -o -iname '*.tiff' \) | LC_ALL=C sort)
}

start_server() {
  local stand_in=0 photos=""
  if [ "${1:-}" = "--stand-in" ]; then stand_in=1; shift; fi
  photos=${1:-}
  if [ -z "$photos" ]; then
    if [ -d sample_images ] && [ -n "$(ls sample_images 2>/dev/null)" ]; then photos=sample_images; else photos=../shared/data/ukbench-14; fi
  fi
  server_work=$(mktemp -d)
  mkdir -p "$server_work/photos"
  cp -r "$photos"/. "$server_work/photos/"
  rm -rf "$server_work/photos/.vsearch"
  if [ "$stand_in" = 0 ]; then split_photos "$server_work/photos"; fi
  query_photo=$(find "$server_work/photos" -iname '*.jpg' | LC_ALL=C sort | head -1)
  local port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  local target_dir=${CARGO_TARGET_DIR:-target}
  if [ "$stand_in" = 1 ]; then
    cargo build --release -q -p vsearch-server --example stand_in_server
    "$target_dir/release/examples/stand_in_server" "$server_work/photos" "127.0.0.1:$port" >"$server_work/server.log" 2>&1 &
  else
    # $VSEARCH_BIN, when set, is the binary to run (scripts/test.sh passes the one its build made: a `cargo build
    # --bin vsearch` here resolves the dependencies' features without the tests' and would build again).
    local vsearch=${VSEARCH_BIN:-}
    if [ -z "$vsearch" ]; then
      cargo build --release -q --bin vsearch
      vsearch=$target_dir/release/vsearch
    fi
    # $VSEARCH_INDEX_ARGS (words without spaces), when set, replaces `--model $VSEARCH_MODEL`.
    local index_args
    if [ -n "${VSEARCH_INDEX_ARGS:-}" ]; then read -r -a index_args <<<"$VSEARCH_INDEX_ARGS"; else index_args=(--model "${VSEARCH_MODEL:-efficientnet-lite0}"); fi
    # $VSEARCH_QDRANT (a Qdrant gRPC URL), when set: the photos are indexed into, and served from, Qdrant.
    local qdrant_args=() serve_args=(--collection "$server_work/photos")
    if [ -n "${VSEARCH_QDRANT:-}" ]; then
      qdrant_args=(--qdrant "$VSEARCH_QDRANT" --qdrant-collection "browser-$port")
      serve_args=(--root "$server_work/photos")
    fi
    "$vsearch" index "$server_work/photos" "${index_args[@]}" "${qdrant_args[@]}" >"$server_work/index.log" 2>&1 || { cat "$server_work/index.log"; return 1; }
    "$vsearch" serve "${serve_args[@]}" "${qdrant_args[@]}" --addr "127.0.0.1:$port" >"$server_work/server.log" 2>&1 &
  fi
  server_pid=$!
  base="http://127.0.0.1:$port"
  for _ in $(seq 1 240); do
    if http_ok "$base/api/health"; then return 0; fi
    if ! kill -0 "$server_pid" 2>/dev/null; then cat "$server_work/server.log"; echo "the server exited" >&2; return 1; fi
    sleep 0.5
  done
  echo "the server did not answer within 120 s" >&2
  return 1
}

# Stops the server with SIGTERM and checks that it shut down cleanly (exit status 0).
stop_server() {
  local status=0
  if [ -n "${server_pid:-}" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid"
    wait "$server_pid" || status=$?
    if [ "$status" != 0 ]; then echo "the server did not stop cleanly (status $status)" >&2; cat "$server_work/server.log" >&2; fi
  fi
  server_pid=""
  rm -rf "${server_work:-/nonexistent}"
  return "$status"
}
