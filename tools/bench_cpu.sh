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
field() { sed -n "s/.*\"$1\": *\"\{0,1\}\([^\",}]*\).*/\1/p" <<<"$2"; }
declare -A hg_ms pt_ms hg_rss pt_rss
keys=()
while IFS= read -r line; do
  key="$(field model "$line") $(field batch "$line") $(field precision "$line")"
  ms=$(field median_ms "$line"); rss=$(field peak_rss_mb "$line")
  if [[ $(field framework "$line") == halfgrad ]]; then
    hg_ms[$key]=$ms; hg_rss[$key]=$rss; keys+=("$key")
  else
    pt_ms[$key]=${ms:-n/a}; pt_rss[$key]=${rss:--}
  fi
done <"$out"
printf '%-24s %12s %12s %9s %10s %10s\n' "model batch precision" "halfgrad ms" "pytorch ms" "speedup" "hg RSS MB" "pt RSS MB"
for key in "${keys[@]}"; do
  h=${hg_ms[$key]}; p=${pt_ms[$key]:-n/a}
  ratio=$(awk -v h="$h" -v p="$p" 'BEGIN { if (p + 0 > 0) printf "%.2fx", p / h; else print "-" }')
  printf '%-24s %12s %12s %9s %10s %10s\n' "$key" "$h" "$p" "$ratio" "${hg_rss[$key]}" "${pt_rss[$key]:--}"
done
