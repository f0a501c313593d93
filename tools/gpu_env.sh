#!/usr/bin/env bash
# Sourced (not run) by the GPU-machine scripts that start halfgrad's binaries themselves
# (tools/gpu_profile.sh, tools/gpu_cifar.sh): `gpu_env LOG` unpacks the carried .gpu_bundle
# through tools/gpu_check.sh with no step (its output to LOG; OUT unset, so it adds nothing to the
# 8 files at most that a device call returns), then puts build-gpu and the bundled OpenBLAS
# (unpacked into build-gpu-deps) on the library path and CUDA's tools on PATH. Run from the repository root.
gpu_env() {
  env -u OUT ONLY=none bash tools/gpu_check.sh >"$1" 2>&1
  export LD_LIBRARY_PATH=$PWD/build-gpu:$PWD/build-gpu-deps/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  export HG_OPENBLAS_LIBRARY=$PWD/build-gpu-deps/lib/libopenblas.so.0
  export PATH=$PATH:/usr/local/cuda/bin
}
