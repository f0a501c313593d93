#!/usr/bin/env bash
# CIFAR-10 with the BENCHMARKS.md ResNet-9: install what is missing, build (Release), fetch and
# verify CIFAR-10 (when missing), train, and report the test accuracy per epoch.
#
#   bash tools/cifar10.sh [hg_cifar10 options]           # CPU subset (a few minutes on 2 cores)
#   bash tools/cifar10.sh --precision bf16 --opt-level O2
#   bash tools/cifar10.sh --full --device cuda --precision fp16 --opt-level O2   # the 94% recipe
#   BUILD_DIR=... (default build), JOBS=... (default nproc)
#
# Without --full, the CPU defaults train on the first 5000 training images for 3 epochs of
# batch 64 (peak lr 0.1) and evaluate on the first 2000 test images; options given here override
# them. --full uses hg_cifar10's own defaults: all 50000/10000 images, 24 epochs of batch 512
# (docs/cifar10.md).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

build_dir=${BUILD_DIR:-build}
defaults=(--limit 5000 --test-limit 2000 --epochs 3 --batch 64 --lr 0.1)
options=()
for arg in "$@"; do  # --full anywhere among the options
  if [[ $arg == --full ]]; then defaults=(); else options+=("$arg"); fi
done
bash tools/setup.sh
JOBS=${JOBS:-$(nproc)} bash tools/build.sh "$build_dir" -DHG_BUILD_EXAMPLES=ON
bash tools/fetch_data.sh cifar10 --build-dir "$build_dir"
echo
"$build_dir/examples/cifar10/hg_cifar10" --data datasets/cifar10 "${defaults[@]}" "${options[@]}"
