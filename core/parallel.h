#pragma once
// CPU threading: one knob for OpenMP loops and the BLAS together.
#include <string>

namespace hg {

void set_num_threads(int threads);  // >= 1
int get_num_threads();
// The BLAS behind CPU GEMM, its kernels and thread count (for logs and benchmarks).
std::string blas_info();

}  // namespace hg
