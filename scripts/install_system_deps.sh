#!/usr/bin/env bash
# Installs the Debian packages vsearch needs to build and test (run as root, or it uses sudo):
# cmake and OpenBLAS build FAISS; dataset-fashion-mnist feeds the index tests and `vsearch bench`;
# fonts-dejavu-core labels the bench plots; chromium runs the browser test.
set -euo pipefail
packages=(cmake libopenblas-dev dataset-fashion-mnist fonts-dejavu-core chromium)
sudo=""
if [ "$(id -u)" != 0 ]; then sudo=sudo; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
echo "installed: ${packages[*]}"
