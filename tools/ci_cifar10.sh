#!/usr/bin/env bash
# The CI's short CIFAR-10 check (run by .ci/run after the Release build in BUILD_DIR):
# ResNet-9 on the first 1024 training images for 2 epochs of batch 32 in fp32, evaluated on the
# first 500 test images. The mean training loss must fall from epoch 1 to epoch 2 and end below
# ln 10 = 2.303 (what a uniform guess scores, with or without label smoothing), and the test
# accuracy must be >= 0.20 (chance is 0.10). Then a resume check: 2 epochs straight vs 1 epoch,
# stop, resume, in fp16 O2 with dynamic loss scaling and cutout: the checkpoints must be
# byte-identical.
# About 1 minute of training on 2 idle cores, plus the first fetch of the data set.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

build=${BUILD_DIR:-build}
exe=$build/examples/cifar10/hg_cifar10
bash tools/fetch_data.sh cifar10 --build-dir "$build"
failed=0

metrics=$build/ci_cifar10_metrics.jsonl
rm -f "$metrics"
"$exe" --limit 1024 --test-limit 500 --epochs 2 --batch 32 --lr 0.1 --log-every 8 --metrics "$metrics"
field() { grep '"type":"epoch"' "$metrics" | sed -n "s/.*\"$1\":\([0-9.e+-]*\).*/\1/p"; }
mapfile -t losses < <(field train_loss)
acc=$(field test_acc | tail -n 1)
echo "cifar10 resnet9, 2 epochs on 1024 images: train loss ${losses[0]:-?} -> ${losses[1]:-?}," \
     "test accuracy ${acc:-?} on 500 images (chance 0.10, required 0.20)"
awk -v a="${losses[0]:-9}" -v b="${losses[1]:-9}" 'BEGIN { exit !(b < a && b < 2.303) }' ||
  { echo "cifar10: the training loss did not fall below ln 10"; failed=1; }
awk -v a="${acc:-0}" 'BEGIN { exit !(a >= 0.20) }' || { echo "cifar10: accuracy too low"; failed=1; }

run=("$exe" --limit 256 --test-limit 100 --epochs 2 --batch 32 --precision fp16 --opt-level O2 --log-every 0
     --cutout 8)
if "${run[@]}" --save "$build/ci_cifar_full.ckpt" >"$build/ci_cifar_full.txt" &&
   "${run[@]}" --save "$build/ci_cifar_half.ckpt" --stop-after 1 >/dev/null &&
   "${run[@]}" --resume "$build/ci_cifar_half.ckpt" --save "$build/ci_cifar_resumed.ckpt" >/dev/null &&
   cmp "$build/ci_cifar_full.ckpt" "$build/ci_cifar_resumed.ckpt"; then
  echo "cifar10 resume: checkpoint after 1 + 1 epochs is byte-identical to 2 epochs straight (fp16 O2, cutout 8)"
else
  echo "cifar10 resume: NOT bit-exact"; failed=1
fi

# --eval-only on the 2-epoch checkpoint prints what the run printed after its last epoch
# (|| true: under set -e a failed grep or run would end the script before it says what failed)
trained=$(grep -o 'test accuracy [^)]*)' "$build/ci_cifar_full.txt" | tail -n 1 || true)
reread=$("${run[@]}" --resume "$build/ci_cifar_full.ckpt" --eval-only | grep -o 'test accuracy [^)]*)' || true)
if [[ -n $trained && $trained == "$reread" ]]; then
  echo "cifar10 --eval-only: the checkpoint evaluates as the run did ($reread)"
else
  echo "cifar10 --eval-only: '$reread', but the run printed '$trained'"; failed=1
fi
exit "$failed"
