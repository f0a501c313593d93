#include "halfgrad/core/parallel.h"

#include <omp.h>

#include "halfgrad/core/error.h"
#include "halfgrad/kernels/cpu/blas.h"

namespace hg {

void set_num_threads(int threads) {
  HG_CHECK(threads >= 1, "set_num_threads: expected >= 1, got ", threads);
  omp_set_num_threads(threads);
  kernels::cpu::set_num_threads(threads);
}

int get_num_threads() { return omp_get_max_threads(); }

std::string blas_info() { return kernels::cpu::blas_info(); }

}  // namespace hg
