#pragma once
// The CUDA emulator's <mma.h>: nvcuda::wmma on the CPU. A real fragment spreads a tile over the
// warp's 32 lanes in an undocumented layout; here every lane holds the whole tile (in float), so
// the warp-wide calls give each lane the same tile, and code that uses the API (not a fragment's
// element layout) computes what it computes on the GPU. The calls check the API's documented
// preconditions, which the hardware does not report when broken: a pointer 256-bit aligned, a
// leading dimension of whole 16 bytes.
#include <stdexcept>
#include <string>

#include "../emu_prelude.h"

namespace nvcuda::wmma {

struct matrix_a {};
struct matrix_b {};
struct accumulator {};
struct row_major {};
struct col_major {};
enum layout_t { mem_row_major, mem_col_major };

template <typename Use, int M, int N, int K, typename T, typename Layout = void>
struct fragment {
  // matrix_a: M x K, matrix_b: K x N, accumulator: M x N; row-major here whatever the layout
  static constexpr int rows = std::is_same_v<Use, matrix_b> ? K : M;
  static constexpr int cols = std::is_same_v<Use, matrix_a> ? K : N;
  static constexpr int num_elements = rows * cols;
  float x[num_elements];
};

namespace detail {

template <typename T>
float widen(T v) {
  if constexpr (std::is_same_v<T, __half>)
    return __half2float(v);
  else if constexpr (std::is_same_v<T, __nv_bfloat16>)
    return __bfloat162float(v);
  else
    return static_cast<float>(v);
}

template <typename T>
void check_operands(const void* p, unsigned ldm, const char* call) {
  if (reinterpret_cast<uintptr_t>(p) % 32 != 0)
    throw std::logic_error(std::string("wmma::") + call +
                           ": the pointer is not 256-bit aligned (CUDA requires it)");
  if (ldm * sizeof(T) % 16 != 0)
    throw std::logic_error(std::string("wmma::") + call + ": ldm " + std::to_string(ldm) +
                           " is not a multiple of 16 bytes (CUDA requires it)");
}

// Element (r, c) of a tile stored with leading dimension ldm, row- or column-major.
template <typename T>
T at(const T* p, unsigned ldm, bool row_major_storage, int r, int c) {
  return row_major_storage ? p[r * ldm + c] : p[c * ldm + r];
}

}  // namespace detail

template <typename Use, int M, int N, int K, typename T, typename Layout>
void load_matrix_sync(fragment<Use, M, N, K, T, Layout>& f, const T* p, unsigned ldm) {
  static_assert(!std::is_same_v<Use, accumulator>, "an accumulator load takes a layout_t");
  detail::check_operands<T>(p, ldm, "load_matrix_sync");
  using F = fragment<Use, M, N, K, T, Layout>;
  for (int r = 0; r < F::rows; ++r)
    for (int c = 0; c < F::cols; ++c)
      f.x[r * F::cols + c] =
          detail::widen(detail::at(p, ldm, std::is_same_v<Layout, row_major>, r, c));
}

template <int M, int N, int K, typename T>
void load_matrix_sync(fragment<accumulator, M, N, K, T>& f, const T* p, unsigned ldm,
                      layout_t layout) {
  detail::check_operands<T>(p, ldm, "load_matrix_sync");
  for (int r = 0; r < M; ++r)
    for (int c = 0; c < N; ++c)
      f.x[r * N + c] = detail::widen(detail::at(p, ldm, layout == mem_row_major, r, c));
}

template <int M, int N, int K, typename T>
void store_matrix_sync(T* p, const fragment<accumulator, M, N, K, T>& f, unsigned ldm,
                       layout_t layout) {
  detail::check_operands<T>(p, ldm, "store_matrix_sync");
  for (int r = 0; r < M; ++r)
    for (int c = 0; c < N; ++c) {
      T& out = layout == mem_row_major ? p[r * ldm + c] : p[c * ldm + r];
      out = static_cast<T>(f.x[r * N + c]);
    }
}

template <typename Use, int M, int N, int K, typename T, typename Layout>
void fill_fragment(fragment<Use, M, N, K, T, Layout>& f, float value) {
  for (float& v : f.x) v = value;
}

// d = a b + c, accumulated in float (the tensor cores' order of additions is their own); once
// per warp, the other lanes checked to hold the same operands (emu_mma.cpp).
template <int M, int N, int K, typename TA, typename LA, typename TB, typename LB, typename TC>
void mma_sync(fragment<accumulator, M, N, K, TC>& d, const fragment<matrix_a, M, N, K, TA, LA>& a,
              const fragment<matrix_b, M, N, K, TB, LB>& b,
              const fragment<accumulator, M, N, K, TC>& c) {
  hg_emu::warp_mma(a.x, b.x, c.x, d.x, M, N, K);
}

}  // namespace nvcuda::wmma
