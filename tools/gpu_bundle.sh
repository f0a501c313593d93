#!/usr/bin/env bash
# Prepares, on this (CPU) machine, everything tools/gpu_check.sh needs that the GPU machine's
# image lacks, so the few minutes of device time go to running, not to building or failing:
#
#   .gpu_bundle/build-gpu.tar.xz  build-gpu (CUDA for sm_90, tests, examples, benchmarks) built
#                                 here: binaries, libhalfgrad.so, the ctest files (no objects)
#   .gpu_bundle/source_dir        the absolute path build-gpu was configured in (gpu_check.sh
#                                 rewrites it in the ctest files to where the copy lands)
#   .gpu_bundle/deps.tar.xz       libopenblas.so.0 with libgfortran/libquadmath/libgomp (the
#                                 image has no OpenBLAS; the others are used where missing),
#                                 and for a rebuild there: doctest's header and CMake package,
#                                 zlib's headers (gpu_check.sh unpacks them into
#                                 build-gpu-deps, beside the bundle: a dry run here leaves the
#                                 bundle the size it was packed)
#   .gpu_bundle/mnist/*.gz        MNIST, gzipped (nothing can be fetched there)
#
# The folder is git-ignored; hand it to the device tool with carry [".gpu_bundle"] and run
# `bash tools/gpu_check.sh`. The binaries run there because that image's C and C++ libraries
# are newer than Debian 12's (checked by gpu_check.sh, which rebuilds there when they do not).
#
#   bash tools/gpu_bundle.sh          (JOBS=N for the build; about 64 MiB may travel per call)
#   MNIST=0 bash tools/gpu_bundle.sh  without MNIST (~11 MB: room for a CIFAR-10 part beside it)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

build=build-gpu
bundle=.gpu_bundle
arch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)
command -v nvcc >/dev/null || export PATH=$PATH:/usr/local/cuda/bin
command -v nvcc >/dev/null || { echo "gpu_bundle: nvcc not found (CUDA toolkit)"; exit 1; }

JOBS=${JOBS:-$(nproc)} bash tools/build.sh "$build" -DHG_ENABLE_CUDA=ON \
  -DHG_CUDA_ARCHITECTURES=90 -DHG_BUILD_EXAMPLES=ON -DHG_BUILD_TESTS=ON
rm -rf "$bundle"
mkdir -p "$bundle/mnist"

# ---- the build tree, without objects ----
find "$build" -path "$build/CMakeFiles" -prune -o -path '*/CMakeFiles/*' -prune -o \
  -path "$build/gpu_check" -prune -o -path "$build/consumer-*" -prune -o -type f \
  \( -name '*.so*' -o -name 'CTestTestfile.cmake' -o -name '*_tests-*.cmake' \
     -o -name '*_include-*.cmake' -o -perm -u+x \) -print |
  sort >"$bundle/files.txt"
tar -cf - -T "$bundle/files.txt" | xz -T0 -9e >"$bundle/build-gpu.tar.xz"
rm "$bundle/files.txt"
echo "$PWD" >"$bundle/source_dir"

# ---- libraries and headers the image lacks ----
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/lib" "$stage/include"
openblas=
for key in HG_OPENBLAS_LIBRARY HG_OPENBLAS_OPENMP_FILE HG_OPENBLAS_ANY_FILE; do
  value=$(grep -m1 "^$key:" "$build/CMakeCache.txt" | cut -d= -f2- || true)
  if [[ -n $value && -f $value ]]; then openblas=$value; break; fi
done
[[ -n $openblas ]] || { echo "gpu_bundle: no OpenBLAS found in $build/CMakeCache.txt"; exit 1; }
cp -L "$openblas" "$stage/lib/libopenblas.so.0"
for lib in libgfortran.so.5 libquadmath.so.0 libgomp.so.1; do
  cp -L "/usr/lib/$arch/$lib" "$stage/lib/$lib" 2>/dev/null || cp -L "/lib/$arch/$lib" "$stage/lib/$lib"
done
cp -r /usr/include/doctest "$stage/include/"
mkdir -p "$stage/lib/cmake" && cp -r /usr/lib/cmake/doctest "$stage/lib/cmake/"
cp /usr/include/zlib.h /usr/include/zconf.h "$stage/include/"
tar -C "$stage" -cf - . | xz -T0 -9e >"$bundle/deps.tar.xz"

# ---- MNIST ----
if [[ ${MNIST:-1} == 0 ]]; then
  echo "gpu_bundle: MNIST=0: no MNIST in the bundle (room for a CIFAR-10 part beside it)"
elif [[ -f datasets/mnist/train-images-idx3-ubyte ]]; then
  for f in datasets/mnist/*-ubyte; do gzip -9 -c "$f" >"$bundle/mnist/$(basename "$f").gz"; done
else
  echo "gpu_bundle: no datasets/mnist (bash tools/fetch_data.sh mnist); the GPU MNIST run will be skipped"
fi
du -sh "$bundle"
echo "gpu_bundle: carry [\".gpu_bundle\"] and run: bash tools/gpu_check.sh"
