#!/usr/bin/env bash
# hg_cifar10 on the emulated device (hg_cifar10_emu): one fp16 O2 step at batch 16 and the
# evaluation, on a synthetic CIFAR-10 folder of 16 records per file written here (a label byte
# 0-9 and 3072 random pixel bytes each). Checks that the example's whole CUDA path runs.
#   cifar_emu_smoke.sh BUILD/tests/cuda_emu/hg_cifar10_emu
set -euo pipefail
bin=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
for name in data_batch_1 data_batch_2 data_batch_3 data_batch_4 data_batch_5 test_batch; do
  for i in $(seq 0 15); do
    printf "\\x0$((i % 10))"
    head -c 3072 /dev/urandom
  done > "$dir/$name.bin"
done
HG_EMU_FAST_GEMM=1 OMP_WAIT_POLICY=passive "$bin" --device cuda --data "$dir" --epochs 1 \
  --batch 16 --eval-batch 16 --precision fp16 --opt-level O2 | tee "$dir/log"
grep -q "^epoch 1: train loss" "$dir/log"
