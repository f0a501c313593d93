#!/usr/bin/env bash
# One command for a GPU machine (written for an H200 with CUDA 13, PyTorch in python3, no
# network, 16 cores): configure for sm_90 in build-gpu, build, run the whole ctest suite, run
# compute-sanitizer (memcheck, then racecheck on the kernels with shared memory) over the CUDA
# suite, run the GPU benchmarks next to PyTorch (kernels: bench_cuda; training steps of the
# BENCHMARKS.md models: tools/bench_cpu.sh with DEVICE=cuda), train MNIST for one epoch on the GPU
# when datasets/mnist was carried along, and print a summary table last. Installs nothing; says
# which tool is missing. Target: under 8 minutes.
#
#   bash tools/gpu_check.sh        logs go to $OUT (when set) or build-gpu/gpu_check/
#   QUICK=1 bash tools/gpu_check.sh    smaller benchmark sizes
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

build=build-gpu
logs=${OUT:-$build/gpu_check}
mkdir -p "$logs"
jobs=${JOBS:-$(nproc)}
started=$SECONDS
declare -a steps=() results=() times=()

record() {  # record NAME STATUS SECONDS
  steps+=("$1"); results+=("$2"); times+=("$3")
}

# run NAME LIMIT_SECONDS CMD...: runs CMD with a time limit, output to $logs/NAME.log.
run() {
  local name=$1 limit=$2; shift 2
  local t0=$SECONDS status
  echo "==== $name ($*)"
  if timeout "$limit" "$@" >"$logs/$name.log" 2>&1; then status=ok
  else
    local rc=$?
    if ((rc == 124)); then status="TIMEOUT(${limit}s)"; else status="FAILED(rc=$rc)"; fi
  fi
  tail -n 15 "$logs/$name.log"
  record "$name" "$status" $((SECONDS - t0))
  [[ $status == ok ]]
}

summary() {
  echo
  echo "==== gpu_check summary (logs in $logs) ===="
  printf '%-22s %-20s %8s\n' step status seconds
  for i in "${!steps[@]}"; do printf '%-22s %-20s %8s\n' "${steps[$i]}" "${results[$i]}" "${times[$i]}"; done
  printf '%-22s %-20s %8s\n' total "" $((SECONDS - started))
  [[ -f $logs/bench_table.txt ]] && cat "$logs/bench_table.txt"
} 
trap summary EXIT

# ---- what must be there (nothing is installed) ----
export PATH=$PATH:/usr/local/cuda/bin
missing=()
command -v cmake >/dev/null || missing+=("cmake")
command -v nvcc >/dev/null || missing+=("nvcc (CUDA toolkit)")
command -v python3 >/dev/null || missing+=("python3")
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$logs/gpu.txt"
if ((${#missing[@]})); then
  echo "gpu_check: missing ${missing[*]}; this script installs nothing (no network here)."
  record prerequisites "MISSING: ${missing[*]}" 0
  exit 1
fi
sanitizer=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)

# ---- configure + build ----
if ! run configure 120 cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DHG_ENABLE_CUDA=ON \
      -DHG_CUDA_ARCHITECTURES=90; then
  if grep -q -i doctest "$logs/configure.log"; then
    echo "gpu_check: doctest was not found (its CMake package is needed for the tests)."
    echo "           configure with -DHG_BUILD_TESTS=OFF to build without them."
  fi
  exit 1
fi
run build 300 cmake --build "$build" -j"$jobs" || exit 1

# ---- tests ----
run ctest 150 ctest --test-dir "$build" -j8 --output-on-failure --timeout 120
# The CUDA suite alone, to show the parity cases ran on the device (not skipped).
run cuda_suite 120 "$build/tests/hg_test_cuda" --duration=true

# ---- sanitizers ----
if [[ -x $sanitizer ]]; then
  # API errors are not reported: the suite provokes some on purpose (out of memory) and
  # halfgrad checks every call itself.
  run memcheck 120 "$sanitizer" --tool memcheck --error-exitcode 1 --leak-check no \
      --report-api-errors no \
      "$build/tests/hg_test_cuda"
  # racecheck on the kernels that share memory between threads (CUB block reductions).
  run racecheck 90 "$sanitizer" --tool racecheck --error-exitcode 1 --report-api-errors no \
      "$build/tests/hg_test_cuda" \
      "-tc=*softmax*,sum*,argmax*,max/min*,*training graph*"
else
  echo "gpu_check: compute-sanitizer not found; skipping memcheck/racecheck"
  record memcheck "SKIPPED (no compute-sanitizer)" 0
fi

# ---- benchmarks ----
quick=()
[[ ${QUICK:-0} == 1 ]] && quick=(--quick)
run bench_halfgrad 90 "$build/bench/bench_cuda" "${quick[@]}"
if python3 -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
  run bench_torch 90 python3 bench/torch_cuda_ref.py "${quick[@]}"
else
  echo "gpu_check: python3 has no CUDA PyTorch; no reference numbers"
  record bench_torch "SKIPPED (no torch.cuda)" 0
fi
# Training steps of the BENCHMARKS.md models on the GPU next to PyTorch (issue 7's targets).
run bench_models 180 env DEVICE=cuda RESNET_BATCH=512 OUT="$logs/bench_models.jsonl" \
    bash tools/bench_cpu.sh "$build"
# MNIST on the GPU when the data set was carried along (there is no network to fetch it).
if [[ -f datasets/mnist/train-images-idx3-ubyte || -f datasets/mnist/train-images-idx3-ubyte.gz ]]; then
  run mnist_cuda_fp16_O2 60 "$build/examples/mnist/hg_mnist" --device cuda --model cnn --epochs 1 \
      --precision fp16 --opt-level O2
else
  record mnist_cuda "SKIPPED (no datasets/mnist)" 0
fi
python3 - "$logs" >"$logs/bench_table.txt" <<'PY'
import json, sys, pathlib
logs = pathlib.Path(sys.argv[1])
def load(name):
    out = {}
    path = logs / name
    if not path.exists():
        return out
    for line in path.read_text().splitlines():
        if line.startswith("{"):
            r = json.loads(line)
            key = (r["bench"], r.get("dtype", ""), r.get("n", r.get("bytes", 0)), r.get("op", ""))
            out[key] = r
    return out
ours, torch = load("bench_halfgrad.log"), load("bench_torch.log")
print("\n==== GPU benchmarks: halfgrad vs PyTorch (same run) ====")
print(f"{'benchmark':34} {'halfgrad':>10} {'torch':>10} {'ratio':>7}  target")
for key, r in ours.items():
    bench = r["bench"]
    if bench == "gemm":
        label, metric, target = f"gemm {r['dtype']} {r['n']}^3 TFLOP/s", "tflops", ">= 0.95 of torch"
    elif bench == "elementwise":
        label, metric, target = f"{r['op']} GB/s", "gbps", f">= 0.85 of copy (is {r['of_copy']:.2f})"
    else:
        label, metric, target = f"d2d copy GB/s", "gbps", "reference"
        tkey = next((k for k in torch if k[0] == "d2d_copy"), None)
        t = torch.get(tkey) if tkey else None
        print(f"{label:34} {r[metric]:>10.1f} {(t[metric] if t else float('nan')):>10.1f} {'':>7}  {target}")
        continue
    t = torch.get(key)
    tv = t[metric] if t else float("nan")
    ratio = r[metric] / tv if t else float("nan")
    print(f"{label:34} {r[metric]:>10.1f} {tv:>10.1f} {ratio:>7.3f}  {target}")
PY

# Non-zero when a step failed or timed out (skipped steps do not count).
for status in "${results[@]}"; do
  [[ $status == ok || $status == SKIPPED* ]] || exit 1
done
exit 0
