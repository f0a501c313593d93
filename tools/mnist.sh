#!/usr/bin/env bash
# The main job: install what is missing, build (Release), fetch and verify MNIST, train the
# BENCHMARKS.md cnn for 3 epochs on the 2 CPU cores and report the test accuracy per epoch.
#
#   bash tools/mnist.sh [extra hg_mnist options, e.g. --precision fp16 --opt-level O2]
#   BUILD_DIR=... (default build), JOBS=... (default nproc)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

build_dir=${BUILD_DIR:-build}
bash tools/setup.sh
JOBS=${JOBS:-$(nproc)} bash tools/build.sh "$build_dir" -DHG_BUILD_EXAMPLES=ON
bash tools/fetch_data.sh mnist --build-dir "$build_dir"
echo
"$build_dir/examples/mnist/hg_mnist" --model cnn --epochs 3 --data datasets/mnist "$@"
