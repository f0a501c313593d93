#include "halfgrad/core/parallel.h"

#include <omp.h>
#include <sched.h>

#include <algorithm>
#include <string>
#include <thread>

#include "halfgrad/core/error.h"
#include "halfgrad/core/warning.h"
#include "halfgrad/kernels/cpu/blas.h"
#include "halfgrad/kernels/cpu/gemm_bf16.h"

namespace hg {

int cpus_available() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return CPU_COUNT(&set);
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

void set_num_threads(int threads) {
  HG_CHECK(threads >= 1, "set_num_threads: expected >= 1, got ", threads);
  if (const int cpus = cpus_available(); threads > cpus)
    warn_once("set_num_threads.oversubscribed",
              "set_num_threads(" + std::to_string(threads) + "): this process may run on " +
                  std::to_string(cpus) +
                  " CPUs only; the extra threads take turns on them and every parallel loop "
                  "waits for the slowest (use at most " +
                  std::to_string(cpus) + ")");
  omp_set_num_threads(threads);
  kernels::cpu::set_num_threads(threads);
}

int get_num_threads() { return omp_get_max_threads(); }

std::string blas_info() {
  return kernels::cpu::blas_info() +
         (kernels::cpu::bf16_gemm_enabled() ? "; bf16 products: AVX-512 BF16 (vdpbf16ps)" : "");
}

}  // namespace hg
