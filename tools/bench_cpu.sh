#!/usr/bin/env bash
# Runs bench/bench_models (halfgrad) and bench/torch_ref.py (PyTorch) side by side on the CPU,
# one process per configuration, 2 threads each, and prints the JSON lines and a ratio table.
#
#   bash tools/bench_cpu.sh [BUILD_DIR]          (needs Debian's python3-torch for the reference)
#   MODELS="mlp cnn" PRECISIONS="fp32 fp16 bf16" BATCHES=128 to narrow it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
build=${1:-build}
models=${MODELS:-"mlp cnn resnet9"}
precisions=${PRECISIONS:-"fp32 fp16 bf16"}
batches=${BATCHES:-128}
out=${OUT:-$build/bench_cpu.jsonl}
: >"$out"
for model in $models; do
  for batch in $batches; do
    b=$batch; [ "$model" = resnet9 ] && b=${RESNET_BATCH:-32}
    for precision in $precisions; do
      "$build/bench/bench_models" --model "$model" --batch "$b" --precision "$precision" --threads 2 | tee -a "$out"
      if /usr/bin/python3 -c "import torch" 2>/dev/null; then
        OPENBLAS_CORETYPE=SkylakeX /usr/bin/python3 bench/torch_ref.py --model "$model" --batch "$b" \
          --precision "$precision" --threads 2 | tee -a "$out"
      fi
    done
  done
done
echo
awk -F'"' '
  { for (i = 2; i < NF; i += 2) v[$i] = $(i + 1)
    key = v["model"] " " v["batch"] " " v["precision"]
    match($0, /"median_ms": ?[0-9.]+/); ms = substr($0, RSTART, RLENGTH); sub(/.*: ?/, "", ms)
    match($0, /"peak_rss_mb": ?[0-9.]+/); rss = substr($0, RSTART, RLENGTH); sub(/.*: ?/, "", rss)
    if (v["framework"] == "halfgrad") { hg[key] = ms; hgr[key] = rss; order[++n] = key }
    else { pt[key] = (ms == "" ? "n/a" : ms); ptr[key] = rss } }
  END {
    printf "%-22s %12s %12s %8s %10s %10s\n", "model batch precision", "halfgrad ms", "pytorch ms", "speedup", "hg RSS MB", "pt RSS MB"
    for (i = 1; i <= n; i++) { k = order[i]
      r = (pt[k] + 0 > 0) ? sprintf("%.2fx", pt[k] / hg[k]) : "-"
      printf "%-22s %12s %12s %8s %10s %10s\n", k, hg[k], pt[k], r, hgr[k], ptr[k] } }' "$out"
