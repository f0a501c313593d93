#!/usr/bin/env bash
# The MNIST sequence models end to end on the emulated device against the CPU: hg_mnist_emu
# --device cuda and hg_mnist on the CPU train the transformer (the fused attention, layer norm)
# and the LSTM (the fused cells) for two fp32 steps on the same synthetic data, and must report
# the same training loss to within 5e-4 (the kernels differ in summation order only; a wrong
# attention scale moved it by 6e-3); then the LSTM in bf16 O2 on the device must finish its
# epoch with a finite loss.
#   sequence_emu_smoke.sh BUILD/tests/cuda_emu/hg_mnist_emu BUILD/examples/mnist/hg_mnist
set -euo pipefail
emu=$1 cpu=$2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
source "$(dirname "${BASH_SOURCE[0]}")/fake_mnist.sh"
write_fake_mnist "$dir"
loss() {  # loss BIN ARGS...: the training loss of one short epoch (6 digits, from --metrics)
  rm -f "$dir/metrics.jsonl"
  "$@" --data "$dir" --epochs 1 --batch 32 --limit 64 --metrics "$dir/metrics.jsonl" >>"$dir/log"
  sed -n 's/.*"train_loss":\([0-9.e+-]*\).*/\1/p' "$dir/metrics.jsonl"
}
status=0
for model in transformer lstm; do
  on_cpu=$(loss "$cpu" --model "$model")
  on_device=$(loss "$emu" --device cuda --model "$model")
  echo "$model fp32: cpu loss $on_cpu, emulated device $on_device"
  awk -v a="$on_cpu" -v b="$on_device" 'BEGIN { d = a - b; exit !(a != "" && d < 5e-4 && d > -5e-4) }' ||
    { echo "sequence_emu_smoke: $model differs between the CPU and the device"; status=1; }
done
bf16=$(loss "$emu" --device cuda --model lstm --precision bf16 --opt-level O2)
echo "lstm bf16 O2 on the emulated device: loss $bf16"
awk -v a="$bf16" 'BEGIN { exit !(a != "" && a + 0 > 0 && a + 0 < 10) }' || status=1
exit $status
