#!/usr/bin/env bash
# Runs bench/bench_models (halfgrad) and bench/torch_ref.py (PyTorch) side by side, one process
# per configuration, 2 CPU threads each, and prints the JSON lines and a ratio table.
#
#   bash tools/bench_cpu.sh [BUILD_DIR]          installs what is missing (tools/setup.sh, and
#                                                Debian's python3-torch for the reference) and
#                                                builds the benchmarks when they are not built
#   MODELS="mlp cnn" PRECISIONS="fp32 fp16 bf16" BATCHES="128 1024" (mlp, cnn; ResNet-9 takes
#   RESNET_BATCH) to choose; PYTHON=... for torch.
#   DEVICE=cuda bash tools/bench_cpu.sh build-gpu    the GPU rows (a CUDA build, PyTorch with CUDA;
#                                                    RESNET_BATCH=512 for BENCHMARKS.md's row;
#                                                    GRAPH=1 adds rows of the step replayed as
#                                                    a CUDA graph, for the models in
#                                                    GRAPH_MODELS, default "mlp cnn")
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
build=${1:-build}
models=${MODELS:-"mlp cnn resnet9"}
precisions=${PRECISIONS:-"fp32 fp16 bf16"}
batches=${BATCHES:-128}
device=${DEVICE:-cpu}
# PYTHON: the interpreter with torch. Default: Debian's (another python3 may come first on PATH
# here); the GPU image's torch lives in the python3 on its PATH, which gpu_check.sh passes.
python=${PYTHON:-/usr/bin/python3}
[[ -x $python ]] || python=python3
if [[ ! -x $build/bench/bench_models ]]; then
  bash tools/setup.sh
  JOBS=${JOBS:-$(nproc)} bash tools/build.sh "$build" -DHG_BUILD_BENCH=ON
fi
if [[ $device == cpu ]] && ! "$python" -c "import torch" 2>/dev/null; then
  sudo=()
  ((EUID == 0)) || sudo=(sudo -n)
  echo "bench_cpu: installing python3-torch (the PyTorch reference)"
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
    python3-torch >/dev/null || echo "bench_cpu: no python3-torch: halfgrad rows only" >&2
fi
# PyTorch's OpenBLAS gets the kernels halfgrad's uses (docs/blas.md) where the CPU has AVX-512
coretype=()
grep -qw avx512f /proc/cpuinfo && coretype=(OPENBLAS_CORETYPE=SkylakeX)
out=${OUT:-$build/bench_$device.jsonl}
: >"$out"
for model in $models; do
  model_batches=$batches  # ResNet-9 runs at RESNET_BATCH alone
  [ "$model" = resnet9 ] && model_batches=${RESNET_BATCH:-32}
  for b in $model_batches; do
    for precision in $precisions; do
      "$build/bench/bench_models" --model "$model" --batch "$b" --precision "$precision" --threads 2 \
        --device "$device" | tee -a "$out"
      if [[ $device == cuda && -n ${GRAPH:-} && " ${GRAPH_MODELS:-mlp cnn} " == *" $model "* ]]; then
        "$build/bench/bench_models" --model "$model" --batch "$b" --precision "$precision" \
          --threads 2 --device cuda --graph | tee -a "$out" || true
      fi
      if "$python" -c "import torch" 2>/dev/null; then
        env "${coretype[@]}" "$python" bench/torch_ref.py --model "$model" --batch "$b" \
          --precision "$precision" --threads 2 --device "$device" | tee -a "$out"
      fi
    done
  done
done
echo
field() { sed -n "s/.*\"$1\": *\"\{0,1\}\([^\",}]*\).*/\1/p" <<<"$2"; }
declare -A hg_ms hg_issued hg_kernels pt_ms hg_rss pt_rss
keys=()
while IFS= read -r line; do
  key="$(field model "$line") $(field batch "$line") $(field precision "$line")"
  ms=$(field median_ms "$line"); rss=$(field peak_rss_mb "$line")
  [[ $device == cuda ]] && rss=$(field peak_device_mb "$line")
  [[ $(field graph "$line") == true ]] && key="$key graph"  # against PyTorch eager's row
  if [[ $(field framework "$line") == halfgrad ]]; then
    hg_ms[$key]=$ms; hg_rss[$key]=$rss; hg_issued[$key]=$(field issued_ms "$line"); keys+=("$key")
    hg_kernels[$key]=$(field graph_kernels "$line")
  else
    pt_ms[$key]=${ms:-n/a}; pt_rss[$key]=${rss:--}
  fi
done <"$out"
memory=RSS; [[ $device == cuda ]] && memory=GPU
echo "device $device"
# hg issued: the median time until the host had issued the step (close to halfgrad ms: host-bound);
# kernels: how many one replay of a graphed step launches
printf '%-24s %12s %10s %12s %9s %10s %10s %8s\n' "model batch precision" "halfgrad ms" "hg issued" "pytorch ms" "speedup" "hg $memory MB" "pt $memory MB" "kernels"
for key in "${keys[@]}"; do
  h=${hg_ms[$key]}; p=${pt_ms[${key% graph}]:-n/a}
  ratio=$(awk -v h="$h" -v p="$p" 'BEGIN { if (p + 0 > 0) printf "%.2fx", p / h; else print "-" }')
  printf '%-24s %12s %10s %12s %9s %10s %10s %8s\n' "$key" "$h" "${hg_issued[$key]:--}" "$p" "$ratio" "${hg_rss[$key]}" "${pt_rss[$key]:--}" "${hg_kernels[$key]:--}"
done
