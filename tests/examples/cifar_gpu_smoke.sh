#!/usr/bin/env bash
# hg_cifar10 end to end on the GPU (issue 9's example), on a small synthetic CIFAR-10 folder
# written here: the real data set reaches the GPU machine only in three calls (tools/gpu_cifar.sh),
# so this case, in the CUDA suite, shows in the first call whether the example trains there at
# all: fp16 O2 eager and replayed as a CUDA graph, fp32 O0, each 2 epochs with evaluation and
# metrics. Exit 77 (skipped) without a GPU.
#
#   tests/examples/cifar_gpu_smoke.sh BUILD/examples/cifar10/hg_cifar10
set -euo pipefail
bin=$1
if ! nvidia-smi >/dev/null 2>&1; then
  echo "cifar_gpu_smoke: no GPU here: skipped"
  exit 77
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
python3 - "$dir" <<'PY'
import os, sys
# 160 records per file: a label byte (0-9) and 3072 pixel bytes
for name in [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]:
    with open(os.path.join(sys.argv[1], name), "wb") as f:
        for i in range(160):
            f.write(bytes([i % 10]) + os.urandom(3072))
PY
run() {  # run NAME ARGS...: 2 epochs, then check the metrics have both epochs' accuracies
  local name=$1
  shift
  # a graph capture refuses HG_CUDA_SYNC=1 (gpu_check.sh sets it for the CUDA cases)
  local unset_sync=()
  [[ " $* " == *" --graph "* ]] && unset_sync=(-u HG_CUDA_SYNC)
  env "${unset_sync[@]}" "$bin" --device cuda --data "$dir" --epochs 2 --batch 64 --eval-batch 80 \
    --metrics "$dir/$name.jsonl" "$@"
  local epochs
  epochs=$(grep -c '"type":"epoch"' "$dir/$name.jsonl")
  [[ $epochs == 2 ]] || { echo "cifar_gpu_smoke: $name wrote $epochs epoch records, not 2"; exit 1; }
}
run fp16_O2 --precision fp16 --opt-level O2
run fp16_O2_graph --precision fp16 --opt-level O2 --graph
run fp32_O0 --precision fp32 --opt-level O0
echo "cifar_gpu_smoke: all three runs trained 2 epochs on the GPU"
