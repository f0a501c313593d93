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
be32() {  # a 32-bit big-endian integer
  local byte
  for byte in $(($1 >> 24 & 255)) $(($1 >> 16 & 255)) $(($1 >> 8 & 255)) $(($1 & 255)); do
    printf "\\$(printf '%03o' "$byte")"
  done
}
idx() {  # idx FILE MAGIC COUNT [ROWS COLS]: an IDX header, then random pixels or labels 0-9
  local file=$1 magic=$2 count=$3 size=1 word
  {
    for word in "$magic" "$count" "${@:4}"; do be32 "$word"; done
    for word in "${@:4}"; do size=$((size * word)); done
    if (($# > 3)); then head -c $((count * size)) /dev/urandom; else
      for ((i = 0; i < count; i++)); do printf "\\x0$((i % 10))"; done
    fi
  } > "$dir/$file"
}
idx train-images-idx3-ubyte 2051 256 28 28
idx train-labels-idx1-ubyte 2049 256
idx t10k-images-idx3-ubyte 2051 64 28 28
idx t10k-labels-idx1-ubyte 2049 64
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
