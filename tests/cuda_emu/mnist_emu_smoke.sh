#!/usr/bin/env bash
# hg_mnist on the emulated device (hg_mnist_emu), fp16 O2 with dynamic loss scaling, eagerly and
# with --graph (3 eager steps, the step captured, then replayed), on a synthetic MNIST folder
# written here (256 training and 64 test images of random pixels). The graphed run must print the
# eager run's epoch line: a replay repeats the captured step exactly.
#   mnist_emu_smoke.sh BUILD/tests/cuda_emu/hg_mnist_emu
set -euo pipefail
bin=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
source "$(dirname "${BASH_SOURCE[0]}")/fake_mnist.sh"
write_fake_mnist "$dir"
run() {
  "$bin" --device cuda --data "$dir" --model mlp --epochs 1 --batch 32 --precision fp16 \
    --opt-level O2 "$@" | tee -a "$dir/log" | grep '^epoch 1:' | sed 's/ ([0-9.]* s)//'
}
eager=$(run)
graphed=$(run --graph)
echo "eager:   $eager"
echo "graphed: $graphed"
[[ -n $eager && $eager == "$graphed" ]]
grep -q "CUDA graph" "$dir/log"  # (the graphed run said it captured the step)
