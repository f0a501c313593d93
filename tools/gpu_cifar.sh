#!/usr/bin/env bash
# CIFAR-10 on the GPU machine (issue 9), over two warm calls: CIFAR-10 (180 MB) does not fit
# the 64 MiB one call may carry, so tools/gpu_cifar_parts.sh packs it in two parts and each call
# brings one, beside .gpu_bundle (which gpu_bundle.sh packs without MNIST when MNIST=0, to leave
# room). Each call runs this script with its part; the data accumulate in datasets/cifar10 on
# the machine (git-ignored files survive between calls while it stays warm), and the call that
# completes them trains.
#
#   here:   MNIST=0 bash tools/gpu_bundle.sh && bash tools/gpu_cifar_parts.sh
#   call k: carry [".gpu_bundle", ".gpu_cifark"], command: bash tools/gpu_cifar.sh .gpu_cifark
#
# The training runs are RUNS (default "fp16:O2"; e.g. "fp16:O2 bf16:O2 fp32:O0"), each the full
# recipe (24 epochs) with --metrics into $OUT, then the epoch and time at which test accuracy
# (flip TTA, and plain) first reached 94%. A third field gives one run options of its own,
# comma-separated: "fp16:O2:--cutout=8" writes cifar_fp16_O2_cutout8.*. A dry run on the CPU machine (after unpacking the
# parts): DEVICE=cpu ARGS="--epochs 1 --limit 1024 --test-limit 500" bash tools/gpu_cifar.sh
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
out=${OUT:-build-gpu-cifar}  # (not gpu_check.sh's log folder, which it empties first)
mkdir -p "$out"
# the bundle first: its build-gpu has the decoder of the parts (hg_cifar_pack)
source tools/gpu_env.sh && gpu_env "$out/cifar_setup.log"
if [[ -n ${1:-} ]]; then
  bash tools/gpu_cifar_parts.sh unpack "$1" || exit 1
fi
missing=()
for f in data_batch_{1..5}.bin test_batch.bin; do  # each 10000 records of 3073 bytes
  [[ $(stat -c %s "datasets/cifar10/$f" 2>/dev/null) == 30730000 ]] || missing+=("$f")
done
if ((${#missing[@]} > 0)); then
  echo "gpu_cifar: not here yet: ${missing[*]}; carry the part that has them (after the first"
  echo "  part, that is the next one; if the machine went cold between calls, the earlier one)"
  exit 0
fi

status=0
# runs with the implicit-GEMM convolutions (HG_CONV_IMPLICIT_GEMM=1) get files of their own
tag=""
[[ ${HG_CONV_IMPLICIT_GEMM:-0} != 0 ]] && tag=_igemm
for run in ${RUNS:-fp16:O2}; do
  # precision:level[:options of this run alone, comma-separated, e.g. --cutout=8]
  precision=${run%%:*} rest=${run#*:}
  level=${rest%%:*} extra=""
  [[ $rest == *:* ]] && extra=${rest#*:}
  extra=${extra//,/ }
  variant=${extra//-/} variant=${variant//=/} variant=${variant// /_}  # --cutout=8 -> cutout8
  name=cifar_${precision}_$level${variant:+_$variant}$tag
  metrics=$out/$name.jsonl
  rm -f "$metrics"
  echo "==== hg_cifar10 --device ${DEVICE:-cuda} --precision $precision --opt-level $level $extra ${ARGS:-}${tag:+ (implicit-GEMM convolutions)}"
  # shellcheck disable=SC2086 # extra, ARGS: options, split on spaces
  build-gpu/examples/cifar10/hg_cifar10 --device "${DEVICE:-cuda}" --precision "$precision" \
    --opt-level "$level" --threads 8 --metrics "$metrics" $extra ${ARGS:-} \
    >"$out/$name.log" 2>&1 || status=1
  tail -n 30 "$out/$name.log"
  python3 - "$metrics" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
epochs = [r for r in rows if r.get("type") == "epoch"]
for key in ("test_acc_tta", "test_acc"):
    hit = next(((e["epoch"], e["elapsed"]) for e in epochs if (e.get(key) or 0) >= 0.94), None)
    last = epochs[-1].get(key) if epochs else None
    print(f"{key}: final {last}, first >= 94%: " +
          (f"epoch {hit[0]} at {hit[1]:.1f} s" if hit else "never"))
PY
done
exit $status
