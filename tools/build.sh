#!/usr/bin/env bash
# Configures and builds halfgrad.
#
#   bash tools/build.sh [BUILD_DIR] [-DOPTION=VALUE ...]
#
# BUILD_DIR defaults to "build"; every other argument goes to the cmake configure step, e.g.
#   bash tools/build.sh build-debug -DCMAKE_BUILD_TYPE=Debug -DHG_ENABLE_CUDA=OFF
# The build type defaults to Release. JOBS (default: nproc) sets the build parallelism.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

build_dir=build
if (($# > 0)) && [[ $1 != -* ]]; then
  build_dir=$1
  shift
fi
jobs=${JOBS:-$(nproc)}

cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release "$@"
cmake --build "$build_dir" -j"$jobs"
