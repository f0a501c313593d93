#!/usr/bin/env bash
# The tour for newcomers: install what is missing, build (Release), run the demo program
# (examples/demo/demo.cpp: fp16/bf16 rounding, tensors, a taped cast).
#
#   bash tools/demo.sh            BUILD_DIR=... (default build) and JOBS=... (default nproc)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

build_dir=${BUILD_DIR:-build}
bash tools/setup.sh
JOBS=${JOBS:-$(nproc)} bash tools/build.sh "$build_dir" -DHG_BUILD_EXAMPLES=ON
echo
"$build_dir/examples/demo/hg_demo"
