// BLAS for halfgrad: OpenBLAS (Debian's OpenMP build, libopenblas0-openmp), opened with dlopen
// on first use so that halfgrad, not the environment, picks its kernels.
//
// Why OpenBLAS: it was the fastest sgemm measured on the project's machines (AMD EPYC, Zen 5,
// AVX-512) at every size from 32^3 to 2048^3, on 1 and 2 threads; BLIS 0.9.0 was slower, much
// slower on small matrices, and picks its 'generic' kernels on this CPU unless told otherwise.
// A micro-kernel of our own would have to match OpenBLAS's ~90% of FMA peak to be worth its
// upkeep. Numbers and how to reproduce them: docs/blas.md.
//
// Why the OpenMP build: halfgrad's own kernels use OpenMP; with the OpenMP build both share
// libgomp's thread pool (no second pool of spinning threads on a 2-core machine), and a BLAS call
// made inside an OpenMP parallel region runs on one thread instead of oversubscribing.
//
// Why dlopen: OpenBLAS picks its kernels once, in a load-time constructor, honouring the
// OPENBLAS_CORETYPE environment variable. This project's machines set OPENBLAS_CORETYPE=Haswell,
// which on this AVX-512 CPU halves sgemm (AVX2 kernels); a setenv() in main() would come too late
// for a library linked the usual way. So halfgrad links no BLAS: on first use it sets
// OPENBLAS_CORETYPE to its own choice, dlopens OpenBLAS, and puts the variable back as it was.
// Its choice: HG_OPENBLAS_CORETYPE if set ("auto": OpenBLAS's own detection); else SkylakeX
// (OpenBLAS's AVX-512 sgemm/dgemm kernels) where the CPU and OS support AVX-512 F/CD/BW/DQ/VL;
// else OpenBLAS's own detection. If the process already has OpenBLAS loaded, that copy is used
// as it is. HG_OPENBLAS_LIBRARY names another libopenblas.so to open.
#include "halfgrad/kernels/cpu/blas.h"

#include <dlfcn.h>

#include <climits>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "halfgrad/core/error.h"

#ifndef HG_OPENBLAS_PATH  // set by cmake/Blas.cmake to the libopenblas.so.0 found at configure time
#define HG_OPENBLAS_PATH "libopenblas.so.0"
#endif

namespace hg::kernels::cpu {

namespace {

// CBLAS enum values (cblas.h); enums are passed as int in the C ABI.
constexpr int kRowMajor = 101, kNoTrans = 111, kTrans = 112;

using SgemmFn = void (*)(int, int, int, int, int, int, float, const float*, int, const float*, int,
                         float, float*, int);
using DgemmFn = void (*)(int, int, int, int, int, int, double, const double*, int, const double*,
                         int, double, double*, int);

struct Blas {
  SgemmFn sgemm = nullptr;
  DgemmFn dgemm = nullptr;
  void (*set_num_threads)(int) = nullptr;
  int (*get_num_threads)() = nullptr;
  char* (*get_config)() = nullptr;
  char* (*get_corename)() = nullptr;
  int (*get_parallel)() = nullptr;
  std::string path;  // the file the library was loaded from
  std::string note;  // how the kernels were chosen, for blas_info()
};

std::optional<std::string> env(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

// The OPENBLAS_CORETYPE halfgrad wants; empty: let OpenBLAS detect the CPU.
std::string wanted_coretype() {
  if (auto forced = env("HG_OPENBLAS_CORETYPE"); forced && !forced->empty())
    return *forced == "auto" ? std::string() : *forced;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  // __builtin_cpu_supports also checks that the OS saves the AVX-512 state (XCR0).
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512cd") &&
      __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
      __builtin_cpu_supports("avx512vl"))
    return "SkylakeX";
#endif
  return {};
}

void set_env(const char* name, const std::optional<std::string>& value) {
  if (value)
    setenv(name, value->c_str(), 1);
  else
    unsetenv(name);
}

template <typename F>
void bind(void* handle, F& fn, const char* symbol) {
  fn = reinterpret_cast<F>(dlsym(handle, symbol));
}

Blas load() {
  Blas blas;
  void* handle = dlopen("libopenblas.so.0", RTLD_NOW | RTLD_NOLOAD);
  if (handle != nullptr) {
    blas.note = "already loaded by the process, kernels as chosen there";
  } else {
    std::vector<std::string> candidates;
    if (auto path = env("HG_OPENBLAS_LIBRARY"); path && !path->empty()) {
      candidates.push_back(*path);
    } else {
      candidates.push_back(HG_OPENBLAS_PATH);
      candidates.push_back("libopenblas.so.0");  // whichever variant the system's search finds
    }
    const std::optional<std::string> user_coretype = env("OPENBLAS_CORETYPE");
    const std::string wanted = wanted_coretype();
    set_env("OPENBLAS_CORETYPE", wanted.empty() ? std::nullopt : std::optional(wanted));
    std::string errors;
    for (const auto& candidate : candidates) {
      handle = dlopen(candidate.c_str(), RTLD_NOW | RTLD_LOCAL);
      if (handle != nullptr) break;
      const char* error = dlerror();
      errors += "\n  " + (error != nullptr ? std::string(error) : candidate);
    }
    set_env("OPENBLAS_CORETYPE", user_coretype);
    HG_CHECK(handle != nullptr,
             "blas: cannot load OpenBLAS (on Debian: apt-get install libopenblas0-openmp; or set "
             "HG_OPENBLAS_LIBRARY to a libopenblas.so):",
             errors);
    blas.note = wanted.empty() ? "kernels chosen by OpenBLAS" : "halfgrad asked for " + wanted;
    if (user_coretype && *user_coretype != wanted)
      blas.note +=
          ", ignoring OPENBLAS_CORETYPE=" + *user_coretype + " (HG_OPENBLAS_CORETYPE chooses)";
  }
  bind(handle, blas.sgemm, "cblas_sgemm");
  bind(handle, blas.dgemm, "cblas_dgemm");
  bind(handle, blas.set_num_threads, "openblas_set_num_threads");
  bind(handle, blas.get_num_threads, "openblas_get_num_threads");
  bind(handle, blas.get_config, "openblas_get_config");
  bind(handle, blas.get_corename, "openblas_get_corename");
  bind(handle, blas.get_parallel, "openblas_get_parallel");
  HG_CHECK(blas.sgemm != nullptr && blas.dgemm != nullptr && blas.set_num_threads != nullptr &&
               blas.get_num_threads != nullptr,
           "blas: the loaded library lacks cblas_sgemm/cblas_dgemm/openblas_set_num_threads");
  // halfgrad passes 32-bit ints; an ILP64 build (USE64BITINT) would read garbage.
  const std::string config = blas.get_config != nullptr ? blas.get_config() : "";
  HG_CHECK(config.find("USE64BITINT") == std::string::npos,
           "blas: the loaded OpenBLAS uses 64-bit integers (", config, "); halfgrad needs LP64");
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(blas.sgemm), &info) != 0 && info.dli_fname != nullptr)
    blas.path = info.dli_fname;
  return blas;
}

const Blas& blas() {
  static const Blas loaded = load();  // thread-safe; a failed load throws and is retried next call
  return loaded;
}

// Leading dimension of a stored rows x cols row-major matrix: at least max(1, cols). A matrix with
// at most one row never steps by it, so any value is accepted and replaced by a valid one.
int64_t checked_ld(const char* op, const char* what, int64_t ld, int64_t rows, int64_t cols) {
  const int64_t min_ld = cols > 1 ? cols : 1;
  if (rows <= 1 && ld < min_ld) return min_ld;
  HG_CHECK(ld >= min_ld, op, ": ", what, " = ", ld, " is less than ", min_ld, " (a ", rows, " x ",
           cols, " matrix)");
  return ld;
}

template <typename T, typename Fn>
void gemm(const char* op, Fn Blas::*fn, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
          T alpha, const T* a, int64_t lda, const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  HG_CHECK(m >= 0 && n >= 0 && k >= 0, op, ": negative size m=", m, " n=", n, " k=", k);
  if (m == 0 || n == 0) return;
  ldc = checked_ld(op, "ldc", ldc, m, n);
  HG_CHECK(c != nullptr, op, ": C is null");
  if (k == 0 || alpha == T(0)) {  // C = beta * C; A and B are not read
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        T& x = c[i * ldc + j];
        x = beta == T(0) ? T(0) : beta * x;
      }
    return;
  }
  lda = checked_ld(op, "lda", lda, trans_a ? k : m, trans_a ? m : k);
  ldb = checked_ld(op, "ldb", ldb, trans_b ? n : k, trans_b ? k : n);
  HG_CHECK(a != nullptr && b != nullptr, op, ": A or B is null");
  for (int64_t v : {m, n, k, lda, ldb, ldc})
    HG_CHECK(v <= INT_MAX, op, ": size or leading dimension ", v,
             " exceeds the 32-bit BLAS interface (m=", m, " n=", n, " k=", k, ")");
  (blas().*fn)(kRowMajor, trans_a ? kTrans : kNoTrans, trans_b ? kTrans : kNoTrans,
               static_cast<int>(m), static_cast<int>(n), static_cast<int>(k), alpha, a,
               static_cast<int>(lda), b, static_cast<int>(ldb), beta, c, static_cast<int>(ldc));
}

}  // namespace

void sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
           int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  gemm("sgemm", &Blas::sgemm, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void dgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha,
           const double* a, int64_t lda, const double* b, int64_t ldb, double beta, double* c,
           int64_t ldc) {
  gemm("dgemm", &Blas::dgemm, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void set_num_threads(int n) {
  HG_CHECK(n >= 1, "set_num_threads: expected n >= 1, got ", n);
  blas().set_num_threads(n);
}

int num_threads() { return blas().get_num_threads(); }

std::string blas_info() {
  const Blas& lib = blas();
  std::string name = "OpenBLAS";
  if (lib.get_config != nullptr) {  // "OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH ..."
    const std::string config = lib.get_config();
    const size_t second_space = config.find(' ', config.find(' ') + 1);
    name = config.substr(0, second_space);
  }
  std::string info = name + " (";
  if (lib.get_corename != nullptr) info += std::string(lib.get_corename()) + " kernels, ";
  if (lib.get_parallel != nullptr) {
    const int parallel = lib.get_parallel();
    info += parallel == 2   ? "OpenMP build, "
            : parallel == 1 ? "pthreads build, "
                            : "serial build, ";
  }
  const int threads = lib.get_num_threads();
  info += std::to_string(threads) + (threads == 1 ? " thread)" : " threads)");
  if (!lib.path.empty()) info += " from " + lib.path;
  return info + "; " + lib.note;
}

}  // namespace hg::kernels::cpu
