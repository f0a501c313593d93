#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/) with clang + ASan + UBSan and runs each one.
#
#   bash tools/fuzz.sh [RUNS] [TARGET ...]
#
# RUNS: executions per target (default 1000000); TARGETS: idx cifar10 safetensors
# safetensors_writer checkpoint
# (default all). Installs clang-14, its fuzzer runtime and LLVM's OpenMP when missing. Each
# corpus starts from valid files the target writes (HG_FUZZ_SEED_DIR) plus the regression
# inputs committed under tests/; new inputs libFuzzer keeps go to build-fuzz/corpus/<target>
# (not committed). A crash leaves crash-* / leak-* / timeout-* files in build-fuzz/findings/
# and a non-zero exit. The log of each run is build-fuzz/<target>.log.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

runs=${1:-1000000}
shift || true
targets=("$@")
((${#targets[@]})) || targets=(idx cifar10 safetensors safetensors_writer checkpoint)

packages=(clang-14 libclang-rt-14-dev libomp-14-dev)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" 2>/dev/null | grep -q '^Status: install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo=()
  ((EUID == 0)) || sudo=(sudo)
  "${sudo[@]}" apt-get update
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
fi
bash tools/setup.sh >/dev/null

build=build-fuzz
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" \
  -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 -DHG_ENABLE_CUDA=OFF -DHG_FUZZ=ON \
  -DHG_BUILD_TESTS=OFF -DHG_BUILD_EXAMPLES=OFF -DHG_BUILD_BENCH=OFF >/dev/null
cmake --build "$build" -j"${JOBS:-$(nproc)}" --target "${targets[@]/#/hg_fuzz_}"

# Committed regression inputs (files a fuzzer once crashed on) join each corpus.
declare -A regressions=([idx]=tests/data/fuzz_idx [cifar10]=tests/data/fuzz_cifar10
                        [safetensors]=tests/nn/fuzz_safetensors [checkpoint]=tests/train/fuzz_checkpoint)
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
status=0
for t in "${targets[@]}"; do
  corpus=$build/corpus/$t findings=$build/findings/$t
  mkdir -p "$corpus" "$findings"
  HG_FUZZ_SEED_DIR=$corpus "$build/fuzz/hg_fuzz_$t" -runs=0 "$corpus" >/dev/null 2>&1 || true
  dirs=("$corpus")
  dict=()
  [[ $t == safetensors || $t == checkpoint ]] && dict=(-dict=fuzz/safetensors.dict)
  [[ -d ${regressions[$t]:-} ]] && dirs+=("${regressions[$t]}")
  echo "== hg_fuzz_$t: $runs runs (log: $build/$t.log)"
  start=$SECONDS
  if "$build/fuzz/hg_fuzz_$t" -runs="$runs" -max_len=8192 -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="$findings/" "${dict[@]}" "${dirs[@]}" >"$build/$t.log" 2>&1; then
    result=ok
  else
    result=FAILED status=1
  fi
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$build/$t.log" | tail -n 1)
  echo "   $result: ${execs:-?} executions in $((SECONDS - start)) s; corpus $(ls "$corpus" | wc -l) inputs"
  [[ $result == ok ]] || tail -n 30 "$build/$t.log"
done
exit $status
