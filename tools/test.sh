#!/usr/bin/env bash
# The test command: installs what is missing (tools/setup.sh), builds (Release), runs the test
# suite, then builds tests/consumer, a separate project, against the build tree and against an
# installed copy, and runs it. A failing test or consumer step does not hide the later ones (a
# failed build ends the script); the exit status is non-zero when any step failed.
#
#   bash tools/test.sh            BUILD_DIR=... (default build) and JOBS=... (default nproc);
#                                 HG_CUDA_ARCHITECTURES=90 compiles the CUDA code for one GPU
#                                 architecture only (when nvcc is present), as CI does;
#                                 HG_CTEST_PER_CASE=OFF runs each test executable's cases in one
#                                 process, as CI does (with nvcc, every process spends ~0.4 s
#                                 loading cuBLAS; per case, that is most of the ctest time)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

build_dir=${BUILD_DIR:-build}
[[ $build_dir == /* ]] || build_dir=$PWD/$build_dir  # absolute from here on (consumer builds)
jobs=${JOBS:-$(nproc)}
failed=()
section() { printf '\n==== %s ====\n' "$*"; }

section "setup"
bash tools/setup.sh

section "build ($build_dir, Release)"
JOBS=$jobs bash tools/build.sh "$build_dir" -DCMAKE_BUILD_TYPE=Release \
  ${HG_CUDA_ARCHITECTURES:+-DHG_CUDA_ARCHITECTURES=$HG_CUDA_ARCHITECTURES} \
  ${HG_CTEST_PER_CASE:+-DHG_CTEST_PER_CASE=$HG_CTEST_PER_CASE}

section "ctest ($build_dir)"
ctest --test-dir "$build_dir" --output-on-failure -j2 || failed+=("ctest")

# The consumer sees halfgrad only through find_package(halfgrad CONFIG), as a program outside
# this repository would: first the build tree's package, then an installed copy.
consumer() {  # consumer NAME -D<where halfgrad's package is>
  local dir=$build_dir/consumer-$1
  rm -rf "$dir"
  cmake -S tests/consumer -B "$dir" -DCMAKE_BUILD_TYPE=Release "$2" &&
    cmake --build "$dir" -j"$jobs" &&
    "$dir/hg_consumer"
}

section "consumer against the build tree"
consumer build-tree -Dhalfgrad_DIR="$build_dir" || failed+=("consumer (build tree)")

section "consumer against an installed copy"
prefix=$build_dir/install
rm -rf "$prefix"
{ cmake --install "$build_dir" --prefix "$prefix" >/dev/null &&
    consumer install -DCMAKE_PREFIX_PATH="$prefix"; } || failed+=("consumer (installed)")

if ((${#failed[@]})); then
  section "tools/test.sh: FAILED: $(IFS=,; echo "${failed[*]}")"
  exit 1
fi
section "tools/test.sh: all passed"
