#!/usr/bin/env bash
# One command for a GPU machine (written for an H200 with CUDA 13, PyTorch in python3, no
# network, 16 cores): take build-gpu from the carried bundle (or configure and build it for
# sm_90), run the CUDA test cases (one process each, synchronising after every launch; the CUDA
# graph cases apart), compute-sanitizer (memcheck; racecheck on the kernels with shared
# memory), the GPU benchmarks next to PyTorch (kernels: bench_cuda; training steps of the
# BENCHMARKS.md models: tools/bench_cpu.sh with DEVICE=cuda), the MNIST matrix on the GPU when
# the data came along (tools/gpu_mnist_matrix.sh: 8 configurations of 3 epochs, as the time
# allows), the CPU suites last, and print a summary table. Most informative first: what the
# budget cuts is at the end, for a rerun with ONLY.
# Installs nothing; says what is missing. Stays within BUDGET_S (default 480 s) by shortening or
# skipping the last steps.
#
# Prepare first, on the CPU machine: `bash tools/gpu_bundle.sh`, then hand the device tool
# carry [".gpu_bundle"]: the image has no OpenBLAS, doctest or data, and building there costs
# minutes of device time (docs/gpu_session.md).
#
#   bash tools/gpu_check.sh                    logs in build-gpu-check/ (and $OUT, packed)
#   QUICK=1 bash tools/gpu_check.sh            smaller benchmark sizes
#   ONLY=cuda_tests,cuda_graph bash tools/gpu_check.sh   a rerun of some steps
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

build=build-gpu
# Logs are written here and come back from the device tool as two files in $OUT (it returns 8
# at most): summary.txt and gpu_check_logs.tar.gz.
logs=build-gpu-check  # beside build-gpu, which a failed prebuilt check removes
rm -rf "$logs" && mkdir -p "$logs"
jobs=${JOBS:-$(nproc)}
started=$SECONDS
declare -a steps=() results=() times=()

record() {  # record NAME STATUS SECONDS
  steps+=("$1"); results+=("$2"); times+=("$3")
}

# run NAME LIMIT_SECONDS CMD...: runs CMD with a time limit, output to $logs/NAME.log. The limit
# shrinks to what is left of BUDGET_S (default 480 s for the whole script); a step with under 15 s
# left, or not named in ONLY (a comma-separated list of step names, for a rerun), is skipped.
budget=${BUDGET_S:-480}
run() {
  local name=$1 limit=$2; shift 2
  local t0=$SECONDS status left=$((budget - (SECONDS - started)))
  if [[ -n ${ONLY:-} && ,$ONLY, != *,$name,* ]]; then
    record "$name" "SKIPPED (not in ONLY)" 0
    return 1
  fi
  if ((left < 15)); then
    record "$name" "SKIPPED (budget)" 0
    return 1
  fi
  ((limit > left)) && limit=$left
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
  {
    echo
    echo "==== gpu_check summary (logs in $logs) ===="
    printf '%-22s %-20s %8s\n' step status seconds
    for i in "${!steps[@]}"; do printf '%-22s %-20s %8s\n' "${steps[$i]}" "${results[$i]}" "${times[$i]}"; done
    printf '%-22s %-20s %8s\n' total "" $((SECONDS - started))
    [[ -f $logs/bench_table.txt ]] && cat "$logs/bench_table.txt"
    [[ -f $logs/mnist_matrix.log ]] && { echo; echo "==== MNIST on the GPU vs the CPU ===="; cat "$logs/mnist_matrix.log"; }
  } | tee "$logs/summary.txt"
  if [[ -n ${OUT:-} ]]; then
    cp "$logs/summary.txt" "$OUT/" && tar -czf "$OUT/gpu_check_logs.tar.gz" -C "$logs" .
  fi
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

# ---- the bundle from tools/gpu_bundle.sh, when carried along ----
# Missing libraries (OpenBLAS; libgfortran/libquadmath/libgomp where the image has none),
# doctest and zlib headers for a build here, MNIST, and build-gpu prebuilt on the CPU machine.
bundle=.gpu_bundle
cmake_extra=()
prebuilt=0
library_path() {  # library_path NAME: where the dynamic linker finds NAME, or nothing
  ldconfig -p 2>/dev/null | awk -v n="$1" '$1 == n { print $NF; exit }'
}
missing_libraries() {  # the "not found" libraries of the given binaries
  ldd "$@" 2>/dev/null | awk '/not found/ { print $1 }' | sort -u
}
if [[ -d $bundle ]]; then
  # unpacked beside the bundle, not in it: a dry run here must not grow what a call carries
  deps=$PWD/build-gpu-deps
  rm -rf "$deps" && mkdir -p "$deps" && bash tools/unxz.sh "$bundle/deps.tar.xz" | tar -C "$deps" -xf -
  for lib in libgfortran.so.5 libquadmath.so.0 libgomp.so.1; do  # the image's own come first
    [[ -n $(library_path "$lib") ]] && rm -f "$deps/lib/$lib"
  done
  export LD_LIBRARY_PATH=$deps/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  export HG_OPENBLAS_LIBRARY=$deps/lib/libopenblas.so.0
  cmake_extra=(-DCMAKE_PREFIX_PATH="$deps" -DHG_OPENBLAS_LIBRARY="$HG_OPENBLAS_LIBRARY"
               -DZLIB_INCLUDE_DIR="$deps/include")
  zlib=$(library_path libz.so.1) && [[ -n $zlib ]] && cmake_extra+=(-DZLIB_LIBRARY="$zlib")
  if compgen -G "$bundle/mnist/*.gz" >/dev/null && [[ ! -e datasets/mnist ]]; then  # (MNIST=0: none)
    mkdir -p datasets/mnist && cp "$bundle"/mnist/*.gz datasets/mnist/
  fi
  # Unpacked afresh on every call, a rerun on a warm machine too (it has no objects, so an
  # incremental build there would compile everything); a build configured here stays.
  if [[ -f $bundle/build-gpu.tar.xz && ( ! -f $build/CMakeCache.txt || -f $build/.from_bundle ) ]]; then
    rm -rf "$build"
    bash tools/unxz.sh "$bundle/build-gpu.tar.xz" | tar -xf - && touch "$build/.from_bundle"
    # The binaries' RUNPATH names the build machine's folder: find libhalfgrad.so here instead.
    export LD_LIBRARY_PATH=$PWD/$build${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
    # ctest's files name the folder the build was configured in: point them here.
    find "$build" -name '*.cmake' -exec sed -i "s#$(cat "$bundle/source_dir")#$PWD#g" {} +
    # CUDA's libraries where the image keeps them, if not where the build machine had them.
    for lib in $(missing_libraries "$build/libhalfgrad.so"); do
      found=$(find /usr/local/cuda* /usr/lib /opt "$(python3 -c 'import site; print(site.getsitepackages()[0])' 2>/dev/null || echo /nonexistent)" \
              -name "$lib" 2>/dev/null | head -n 1)
      if [[ -n $found ]]; then
        export LD_LIBRARY_PATH=$LD_LIBRARY_PATH:$(dirname "$found")
        echo "gpu_check: $lib from $(dirname "$found") (added to LD_LIBRARY_PATH)"
      fi
    done
    if [[ -z $(missing_libraries "$build/libhalfgrad.so" "$build/tests/hg_test_cuda") ]] &&
       "$build/tests/hg_test_core" -ltc >/dev/null 2>&1; then
      prebuilt=1
      echo "gpu_check: using build-gpu prebuilt by tools/gpu_bundle.sh"
    else
      echo "gpu_check: the prebuilt binaries do not run here; building instead:"
      ldd "$build/libhalfgrad.so" | grep "not found"
      rm -rf "$build"
    fi
  fi
fi

# ---- configure + build (skipped when the bundle's build runs) ----
if ((prebuilt)); then
  record configure+build "ok (prebuilt)" 0
elif [[ -n ${ONLY:-} && -f $build/CMakeCache.txt ]]; then
  # A rerun on a warm machine that configured here in an earlier call: bring that build up to
  # the sources just copied over (incremental: cheap when nothing changed), whatever ONLY says.
  ONLY="$ONLY,build" run build 300 cmake --build "$build" -j"$jobs" || exit 1
else
  if ! run configure 120 cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DHG_ENABLE_CUDA=ON \
        -DHG_CUDA_ARCHITECTURES=90 -DHG_BUILD_EXAMPLES=ON "${cmake_extra[@]}"; then
    if grep -q -i doctest "$logs/configure.log"; then
      echo "gpu_check: doctest was not found (its CMake package is needed for the tests);"
      echo "           bash tools/gpu_bundle.sh on the CPU machine packs it: carry .gpu_bundle."
    fi
    exit 1
  fi
  run build 300 cmake --build "$build" -j"$jobs" || exit 1
fi

# ---- CUDA tests first: they are what no other machine can run ----
# One process per case (ctest), synchronising after every launch: a kernel fault is named at its
# own launch, and it poisons only its own case's CUDA context, not every case after it.
# Graph captures refuse that mode, so the graph cases run on their own, without it.
cuda_ctest=(ctest --test-dir "$build" --output-on-failure --no-tests=error --timeout 60 -j"$((jobs < 8 ? jobs : 8))")
run cuda_tests 150 env HG_CUDA_SYNC=1 OMP_NUM_THREADS=2 "${cuda_ctest[@]}" -R '^cuda:' -E '^cuda:cuda graph:'
run cuda_graph 60 env OMP_NUM_THREADS=2 "${cuda_ctest[@]}" -R '^cuda:cuda graph:'
# ---- sanitizers: before the benchmarks, which a later call can rerun (ONLY=...) ----
if [[ -x $sanitizer ]]; then
  # API errors are not reported: the suite provokes some on purpose (out of memory) and
  # halfgrad checks every call itself. A timeout keeps what memcheck reported so far in the log.
  run memcheck 100 "$sanitizer" --tool memcheck --error-exitcode 1 --leak-check no \
      --report-api-errors no "$build/tests/hg_test_cuda"
  # racecheck on the kernels that share memory between threads: the CUB block reductions
  # (softmax, sums, arg-reductions) and nn_common.cuh's block_sum (batch/layer norm, conv bias).
  run racecheck 60 "$sanitizer" --tool racecheck --error-exitcode 1 --report-api-errors no \
      "$build/tests/hg_test_cuda" \
      "-tc=*softmax*,sum*,argmax*,max/min*,*training graph*,*batch_norm*,*layer_norm*,*conv2d*"
else
  echo "gpu_check: compute-sanitizer not found; skipping memcheck/racecheck"
  record memcheck "SKIPPED (no compute-sanitizer)" 0
fi

# ---- benchmarks ----
quick=()
[[ ${QUICK:-0} == 1 ]] && quick=(--quick)
run bench_halfgrad 60 "$build/bench/bench_cuda" "${quick[@]}"
if python3 -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
  run bench_torch 60 python3 bench/torch_cuda_ref.py "${quick[@]}"
else
  echo "gpu_check: python3 has no CUDA PyTorch; no reference numbers"
  record bench_torch "SKIPPED (no torch.cuda)" 0
fi
# ResNet-9's 3x3 convolutions: im2col + cuBLAS against the implicit-GEMM kernel (off by default
# until measured: cuda::set_implicit_gemm_conv), beside cuDNN in NCHW and channels-last.
conv_torch=true
python3 -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null &&
  conv_torch="python3 bench/torch_conv_cuda.py ${quick[*]}"
run bench_conv 60 bash -c "'$build/bench/bench_conv_cuda' ${quick[*]} && $conv_torch"
# Training steps of the BENCHMARKS.md models on the GPU next to PyTorch (issue 7's targets).
# mlp and cnn at both of BENCHMARKS.md's batches, 128 and 1024.
run bench_models 240 env DEVICE=cuda BATCHES="128 1024" RESNET_BATCH=512 GRAPH=1 \
    OUT="$logs/bench_models.jsonl" \
    PYTHON="$(command -v python3)" bash tools/bench_cpu.sh "$build"
# 16-bit steps at O2 (a 16-bit model with fp32 masters: no weight casts in the forward, no
# gradient casts back): mlp and cnn eager and graphed, ResNet-9 eager (the CIFAR-10 recipe's).
run bench_o2 90 bash -c 'rc=0; for m in mlp cnn; do for p in bf16 fp16; do for g in "" --graph; do
    "$0/bench/bench_models" --model $m --batch 128 --precision $p --opt-level O2 --device cuda $g ||
    { echo "bench_o2: $m $p $g failed" >&2; rc=1; }; done; done; done
  "$0/bench/bench_models" --model resnet9 --batch 512 --precision fp16 --opt-level O2 \
    --device cuda || rc=1; exit $rc' "$build"
# ResNet-9's 16-bit steps with the implicit-GEMM convolutions (next to bench_models' rows).
run bench_igemm 60 env HG_CONV_IMPLICIT_GEMM=1 DEVICE=cuda MODELS=resnet9 PRECISIONS="fp16 bf16" \
    RESNET_BATCH=512 OUT="$logs/bench_igemm.jsonl" PYTHON="$(command -v python3)" \
    bash tools/bench_cpu.sh "$build"
# The MNIST sequence models' steps (the fused attention and recurrent cells, sessions 31-33).
run bench_seq 60 env DEVICE=cuda MODELS="transformer lstm" PRECISIONS="fp32 bf16" BATCHES=128 \
    OUT="$logs/bench_seq.jsonl" PYTHON="$(command -v python3)" bash tools/bench_cpu.sh "$build"
# MNIST on the GPU at every precision and opt level, beside the CPU accuracies (docs/mnist.md),
# when the data set was carried along (there is no network to fetch it).
if [[ -f datasets/mnist/train-images-idx3-ubyte || -f datasets/mnist/train-images-idx3-ubyte.gz ]]; then
  run mnist_matrix 150 env OUT="$logs" bash tools/gpu_mnist_matrix.sh "$build"
else
  record mnist_matrix "SKIPPED (no datasets/mnist)" 0
fi
# ---- the CPU suites last: checked on the CPU machine already; here they show the binaries run ----
run cpu_tests 60 env OMP_NUM_THREADS=2 ctest --test-dir "$build" -j"$jobs" --timeout 60 \
    --output-on-failure -E '^cuda:'

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
    elif bench == "sort":  # (ratio: halfgrad's time over PyTorch's, lower is better)
        label, metric, target = f"sort {r['dtype']} {r['op']} ms", "ms", "none (lower is better)"
    elif bench == "host_overhead":  # (ratio: halfgrad's time over PyTorch's, lower is better)
        label, metric, target = f"host us/call {r['op'][:21]}", "us", "none (lower is better)"
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
def rows(name):
    path = logs / name
    return [json.loads(l) for l in path.read_text().splitlines() if l.startswith("{")] \
        if path.exists() else []
torch_fp32 = {(r["model"], r["batch"]): r["median_ms"] for r in rows("bench_models.jsonl")
              if r.get("framework") != "halfgrad" and r.get("precision") == "fp32"}
o2 = rows("bench_o2.log")
if o2:
    print("\n==== O2 steps (16-bit model, fp32 masters): ms, x PyTorch eager fp32 ====")
    for r in o2:
        t = torch_fp32.get((r["model"], r["batch"]))
        label = f"{r['model']} {r['batch']} {r['precision']} O2{' graph' if r['graph'] else ''}"
        x = f"{t / r['median_ms']:.2f}x" if t else "-"
        print(f"{label:34} {r['median_ms']:>10.3f} {x:>8}  GPU MB {r.get('peak_device_mb', '-')}"
              f"  issued {r.get('issued_ms', '-')} ms  Lt epilogues {r.get('lt_epilogue_calls', '-')}"
              f"  kernels/step {r.get('graph_kernels', '-')}"
              f"  nodes/step {r.get('graph_nodes', '-')}")
seq = rows("bench_seq.jsonl")
if seq:
    print("\n==== MNIST sequence models (transformer, lstm), batch 128: ms per step ====")
    torch_seq = {(r["model"], r["precision"]): r["median_ms"] for r in seq
                 if r.get("framework") != "halfgrad"}
    for r in seq:
        if r.get("framework") != "halfgrad":
            continue
        t = torch_seq.get((r["model"], r["precision"]))
        x = f"{t / r['median_ms']:.2f}x" if t else "-"
        print(f"{r['model'] + ' ' + r['precision']:34} {r['median_ms']:>10.3f} "
              f"{(t if t else float('nan')):>10.3f} {x:>8}  GPU MB {r.get('peak_device_mb', '-')}")
conv = [json.loads(l) for l in (logs / "bench_conv.log").read_text().splitlines()
        if l.startswith("{")] if (logs / "bench_conv.log").exists() else []
impls = sorted({r["impl"] for r in conv})
if conv:
    print("\n==== ResNet-9 3x3 convs, forward + backward ms (forward ms) ====")
    print(f"{'layer':24} {'dtype':9} " + " ".join(f"{i:>20}" for i in impls))
    for layer, dtype in dict.fromkeys((r["layer"], r["dtype"]) for r in conv):
        cells = {r["impl"]: f"{r['train_ms']:.3f} ({r['forward_ms']:.3f})" for r in conv
                 if r["layer"] == layer and r["dtype"] == dtype}
        print(f"{layer:24} {dtype:9} " + " ".join(f"{cells.get(i, '-'):>20}" for i in impls))
PY

# Non-zero when a step failed or timed out (skipped steps do not count).
for status in "${results[@]}"; do
  [[ $status == ok* || $status == SKIPPED* ]] || exit 1
done
exit 0
