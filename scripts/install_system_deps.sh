#!/usr/bin/env bash
# Installs the Debian packages vsearch needs to build and test, and only those that are missing (run as root, or
# it uses sudo): cmake and OpenBLAS (its OpenMP build, selected as the system's BLAS: see below) build FAISS;
# libheif-dev links HEIC/HEIF and AVIF decoding (Debian 12's libheif1 1.15.1 has its HEVC and AV1 decoders,
# libde265 and dav1d/libaom, built in: no plugin packages; later Debian releases split them into
# libheif-plugin-libde265 and libheif-plugin-dav1d, installed below where they exist); libsqlite3-dev is the
# SQLite the catalog, reports and analytics use (the system's, not a bundled copy: see Cargo.toml);
# dataset-fashion-mnist feeds the index tests and `vsearch bench`;
# fonts-dejavu-core labels the bench plots; chromium runs the browser test; nodejs/npm drive it; python3-venv
# holds schemathesis; ffmpeg (ffmpeg and ffprobe, run as subprocesses) reads the frames of videos at index time and
# makes and tests the video fixtures (without it `vsearch index` indexes photos and reports each video with this
# script as the fix). The README's two commands (scripts/demo.sh, scripts/test.sh) call this first, so a fresh
# Debian or Ubuntu machine with a Rust toolchain needs no other step.
# Usage: scripts/install_system_deps.sh [--build-only]   (--build-only: what building and the demo need)
set -euo pipefail

build=(cmake g++ libheif-dev libopenblas-openmp-dev libsqlite3-dev nasm pkg-config)
# HEVC and AV1 decoding: separate plugin packages from libheif 1.16 on (Debian 13); built in before.
for plugin in libheif-plugin-libde265 libheif-plugin-dav1d; do
  if apt-cache show "$plugin" >/dev/null 2>&1; then build+=("$plugin"); fi
done
test=(dataset-fashion-mnist fonts-dejavu-core chromium ffmpeg)
packages=("${build[@]}")
if [ "${1:-}" != --build-only ]; then
  packages+=("${test[@]}")
  # Node.js and a Python with venv may come from elsewhere (nvm, pyenv): ask Debian only when they are absent.
  command -v npm >/dev/null || packages+=(nodejs npm)
  python3 -c 'import venv, ensurepip' 2>/dev/null || packages+=(python3-venv)
fi

sudo=""
if [ "$(id -u)" != 0 ]; then sudo=sudo; fi

# FAISS links -lblas -llapack, which Debian resolves through its alternatives. OpenBLAS's pthread build (the
# default where it is installed: priority 100 against 95) keeps its own thread pool, which busy-waits beside
# FAISS's OpenMP threads and ignores --threads; its OpenMP build shares libgomp's pool (crates/index/FAISS.md
# has the measurements). Select the OpenMP build wherever it is installed; no rebuild is needed.
select_openmp_blas() {
  local dir=/usr/lib/x86_64-linux-gnu/openblas-openmp
  [ -d "$dir" ] || return 0
  for name in libblas.so.3 liblapack.so.3 libopenblas.so.0 libblas.so liblapack.so libopenblas.so; do
    local alt="$name-x86_64-linux-gnu"
    if [ -e "$dir/$name" ] && [ "$(readlink -f "/etc/alternatives/$alt" 2>/dev/null)" != "$(readlink -f "$dir/$name")" ]; then
      $sudo update-alternatives --set "$alt" "$dir/$name" >/dev/null
      echo "selected $dir/$name for $alt" >&2
    fi
  done
}

missing=()
for p in "${packages[@]}"; do
  if [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" != "install ok installed" ]; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} = 0 ]; then
  select_openmp_blas
  exit 0
fi

export DEBIAN_FRONTEND=noninteractive
echo "installing system packages: ${missing[*]}" >&2
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "installed: ${missing[*]}" >&2
select_openmp_blas
