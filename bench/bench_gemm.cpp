// sgemm throughput through hg::kernels::cpu::sgemm (row-major, no transposes, C = A * B) at
// 256^3 .. 2048^3, best of --repeat timed runs, and the 1024^3 case as a share of the FMA peak of
// the same number of threads, measured here by a register-only FMA loop (AVX-512 where the CPU
// has it, else AVX2). Where the CPU has AVX-512 BF16, the bf16 GEMM of kernels/cpu/gemm_bf16.h
// beside it. See docs/blas.md.
//
//   bench_gemm [--threads N (default 2)] [--repeat R (default 5)]
#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <thread>
#include <vector>

#include "halfgrad/core/half.h"
#include "halfgrad/kernels/cpu/blas.h"
#include "halfgrad/kernels/cpu/gemm_bf16.h"

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Independent FMA chains per thread, enough to keep both FMA pipes busy through the FMA latency
// (2 pipes x 4-5 cycles) while every chain stays in a register: AVX-512 has 32 vector registers,
// AVX2 16, two of which hold the loop's operands (16 AVX2 chains spill, and the loop then
// measured 100 GFLOP/s on a Zen 3 whose sgemm ran at 147).
constexpr int kChains512 = 16;
constexpr int kChains256 = 12;

#if defined(__x86_64__)
__attribute__((target("avx512f"))) float fma_loop_avx512(long iterations) {
  __m512 acc[kChains512];
  for (int i = 0; i < kChains512; ++i) acc[i] = _mm512_set1_ps(1e-3f * static_cast<float>(i));
  __m512 x = _mm512_set1_ps(0.999999f), y = _mm512_set1_ps(1e-7f);
  for (long it = 0; it < iterations; ++it) {
    for (int i = 0; i < kChains512; ++i) acc[i] = _mm512_fmadd_ps(acc[i], x, y);
    asm volatile("" : "+v"(x));  // keeps the loop from being folded
  }
  float lanes[16];
  float sum = 0;
  for (int i = 0; i < kChains512; ++i) {
    _mm512_storeu_ps(lanes, acc[i]);
    for (float lane : lanes) sum += lane;
  }
  return sum;
}

__attribute__((target("avx2,fma"))) float fma_loop_avx2(long iterations) {
  __m256 acc[kChains256];
  for (int i = 0; i < kChains256; ++i) acc[i] = _mm256_set1_ps(1e-3f * static_cast<float>(i));
  __m256 x = _mm256_set1_ps(0.999999f), y = _mm256_set1_ps(1e-7f);
  for (long it = 0; it < iterations; ++it) {
    for (int i = 0; i < kChains256; ++i) acc[i] = _mm256_fmadd_ps(acc[i], x, y);
    asm volatile("" : "+x"(x));
  }
  float lanes[8];
  float sum = 0;
  for (int i = 0; i < kChains256; ++i) {
    _mm256_storeu_ps(lanes, acc[i]);
    for (float lane : lanes) sum += lane;
  }
  return sum;
}
#endif

struct Peak {
  double gflops = 0;
  const char* isa = "none";
};

// FMA peak of `threads` threads running at once, best of 3.
Peak measure_fma_peak(int threads) {
  Peak peak;
#if defined(__x86_64__)
  __builtin_cpu_init();
  const bool avx512 = __builtin_cpu_supports("avx512f");
  if (!avx512 && !(__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))) return peak;
  peak.isa = avx512 ? "AVX-512" : "AVX2";
  const int lanes = avx512 ? 16 : 8;
  const long iterations = 30'000'000;
  for (int trial = 0; trial < 3; ++trial) {
    std::vector<std::thread> pool;
    std::vector<float> sink(static_cast<size_t>(threads));
    const auto start = Clock::now();
    for (int t = 0; t < threads; ++t)
      pool.emplace_back([&, t] {
        sink[static_cast<size_t>(t)] =
            avx512 ? fma_loop_avx512(iterations) : fma_loop_avx2(iterations);
      });
    for (auto& th : pool) th.join();
    const double s = seconds_since(start);
    const int chains = avx512 ? kChains512 : kChains256;
    const double flops = 2.0 * lanes * chains * static_cast<double>(iterations) * threads;
    peak.gflops = std::max(peak.gflops, flops / s * 1e-9);
  }
#else
  (void)threads;
#endif
  return peak;
}

// Seconds per product of n x n x n, best of `repeat` runs of ~0.2 s each: sgemm, or with bf16
// the bf16 GEMM of kernels/cpu/gemm_bf16.h on the same values rounded to bf16.
double time_gemm(int64_t n, int repeat, bool bf16, bool& check_ok) {
  const auto size = static_cast<size_t>(n * n);
  std::vector<float> a(size), b(size), c(size);
  for (size_t i = 0; i < size; ++i) {
    a[i] = static_cast<float>(static_cast<int>(i * 7 % 13) - 6) / 13.0f;
    b[i] = static_cast<float>(static_cast<int>(i * 5 % 11) - 5) / 11.0f;
  }
  std::vector<hg::BFloat16> a16(a.begin(), a.end()), b16(b.begin(), b.end());
  if (bf16) {  // the reference below then multiplies the bf16 values
    a.assign(a16.begin(), a16.end());
    b.assign(b16.begin(), b16.end());
  }
  auto run = [&] {
    if (bf16)
      hg::kernels::cpu::gemm_bf16(
          n, n, n, hg::kernels::cpu::MatrixRef<hg::BFloat16>{a16.data(), n, 1},
          hg::kernels::cpu::MatrixRef<hg::BFloat16>{b16.data(), n, 1}, 0.0f, c.data(), n);
    else
      hg::kernels::cpu::sgemm(false, false, n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(),
                              n);
  };
  auto start = Clock::now();
  run();  // warm-up: loads the library, faults in the pages, starts the threads
  const double first = seconds_since(start);
  // spot check a few entries against a double-precision dot product
  for (int64_t i : {int64_t{0}, n / 3, n - 1})
    for (int64_t j : {int64_t{0}, n / 2, n - 1}) {
      double want = 0, scale = 0;
      for (int64_t p = 0; p < n; ++p) {
        want += static_cast<double>(a[i * n + p]) * b[p * n + j];
        scale += std::fabs(static_cast<double>(a[i * n + p]) * b[p * n + j]);
      }
      if (std::fabs(c[i * n + j] - want) > 1e-5 * scale + 1e-6) check_ok = false;
    }
  const int calls = std::max(1, static_cast<int>(0.2 / std::max(first, 1e-6)));
  double best = 1e30;
  for (int r = 0; r < repeat; ++r) {
    start = Clock::now();
    for (int i = 0; i < calls; ++i) run();
    best = std::min(best, seconds_since(start) / calls);
  }
  return best;
}

int usage(const char* argv0) {
  std::fprintf(stderr, "usage: %s [--threads N] [--repeat R]\n", argv0);
  return 2;
}

int run(int argc, char** argv) {
  int threads = 2, repeat = 5;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if ((arg == "--threads" || arg == "--repeat") && i + 1 < argc) {
      const int value = std::atoi(argv[++i]);
      if (value < 1) return usage(argv[0]);
      (arg == "--threads" ? threads : repeat) = value;
    } else {
      return usage(argv[0]);
    }
  }
  hg::kernels::cpu::set_num_threads(threads);
  std::printf("BLAS: %s\n", hg::kernels::cpu::blas_info().c_str());
  const Peak peak = measure_fma_peak(threads);
  if (peak.gflops > 0)
    std::printf("FMA peak, %d thread%s (%s, measured): %.1f GFLOP/s\n", threads,
                threads == 1 ? "" : "s", peak.isa, peak.gflops);
  const bool bf16 = hg::kernels::cpu::bf16_gemm_supported();
  std::printf("%8s %10s %10s%s\n", "n", "ms", "GFLOP/s", bf16 ? "  bf16 ms  bf16 GFLOP/s" : "");
  bool check_ok = true;
  double gflops_1024 = 0;
  for (int64_t n : {256, 512, 1024, 2048}) {
    const double s = time_gemm(n, repeat, false, check_ok);
    const double gflops = 2.0 * static_cast<double>(n * n * n) / s * 1e-9;
    std::printf("%8lld %10.3f %10.1f", static_cast<long long>(n), s * 1e3, gflops);
    if (bf16) {  // (the CPU has AVX-512 BF16: kernels/cpu/gemm_bf16.h)
      const double s16 = time_gemm(n, repeat, true, check_ok);
      std::printf(" %9.3f %13.1f", s16 * 1e3, 2.0 * static_cast<double>(n * n * n) / s16 * 1e-9);
    }
    std::printf("\n");
    if (n == 1024) gflops_1024 = gflops;
  }
  if (peak.gflops > 0)
    std::printf("1024^3: %.1f GFLOP/s = %.0f%% of the %s FMA peak of %d thread%s\n", gflops_1024,
                100.0 * gflops_1024 / peak.gflops, peak.isa, threads, threads == 1 ? "" : "s");
  if (!check_ok) {
    std::printf("FAILED: GEMM results differ from a double-precision reference\n");
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_gemm: %s\n", e.what());
    return 1;
  }
}
