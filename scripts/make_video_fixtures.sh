#!/usr/bin/env bash
# Makes the video test fixtures in tests/fixtures/video/ from the ukbench-14 photos (../shared/data/ukbench-14
# beside the checkout; ukbench objects are four photos each: 00000-00003 object 0, 00004-00007 object 1, ...):
# each video shows one object's photo for 3 s, then another object's for 3 s (320 x 240, 2 frames/s), in
# one container and codec each, a few tens of KB:
#   objects_0_1.mp4   H.264 in MP4 (moov first), ukbench00000 then ukbench00004
#   objects_2_3.webm  VP9 in WebM,              ukbench00008 then ukbench00012
#   objects_4_5.mov   H.264 in QuickTime,       ukbench00016 then ukbench00020
#   objects_6_7.mkv   H.264 in Matroska,        ukbench00024 then ukbench00028
#   truncated.mp4     objects_0_1.mp4 cut after 40% of its bytes (a partial download: the index says 6 s, the
#                     frames past the cut are missing)
#   corrupt.mp4       an MP4 file type box followed by bytes that are no MP4 boxes
# Needs ffmpeg (scripts/install_system_deps.sh installs it). Run from anywhere; the output is deterministic for a
# given ffmpeg build (Debian 12's 5.1 made the checked-in files).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
photos="$here/../shared/data/ukbench-14"
out="$here/tests/fixtures/video"
mkdir -p "$out"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# video NAME FIRST SECOND CODEC_ARGS...: FIRST's photo for 3 s, then SECOND's.
video() {
  local name=$1 first=$2 second=$3
  shift 3
  ffmpeg -nostdin -v error -y \
    -loop 1 -t 3 -framerate 2 -i "$photos/ukbench$first.jpg" \
    -loop 1 -t 3 -framerate 2 -i "$photos/ukbench$second.jpg" \
    -filter_complex "[0:v]scale=320:240,setsar=1[a];[1:v]scale=320:240,setsar=1[b];[a][b]concat=n=2:v=1,format=yuv420p[v]" \
    -map "[v]" -r 2 -fflags +bitexact -flags:v +bitexact -map_metadata -1 "$@" "$out/$name"
}

x264=(-c:v libx264 -preset veryslow -crf 34 -g 4 -threads 1)
video objects_0_1.mp4 00000 00004 "${x264[@]}" -movflags +faststart
video objects_2_3.webm 00008 00012 -c:v libvpx-vp9 -crf 50 -b:v 0 -g 4 -threads 1 -row-mt 0
video objects_4_5.mov 00016 00020 "${x264[@]}"
video objects_6_7.mkv 00024 00028 "${x264[@]}"

size=$(stat -c %s "$out/objects_0_1.mp4")
head -c $((size * 4 / 10)) "$out/objects_0_1.mp4" > "$out/truncated.mp4"
# The first 32 bytes (the ftyp box: recognised as MP4 by content), then 4 KB of a repeating pattern.
{ head -c 32 "$out/objects_0_1.mp4"; head -c 4096 < <(yes 'not an mp4 box '); } > "$out/corrupt.mp4"
ls -l "$out"
