#pragma once
// CPU threading: one knob for OpenMP loops and the BLAS together.
#include <string>

namespace hg {

// >= 1; more than the CPUs this process may run on (cpus_available) is allowed, with a warning
// once: the threads then take turns on the cores, and OpenMP's barriers make that much slower.
void set_num_threads(int threads);
int get_num_threads();
int cpus_available();  // the process's CPU affinity mask, or hardware_concurrency without one
// The BLAS behind CPU GEMM, its kernels and thread count (for logs and benchmarks), and whether
// bf16 products run on AVX-512 BF16 here (kernels/cpu/gemm_bf16.h, docs/blas.md).
std::string blas_info();

}  // namespace hg
