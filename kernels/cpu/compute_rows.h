#pragma once
// Rows of a 16-bit tensor in the compute type for the fused CPU kernels (attention, recurrent
// cells): widened once into a buffer, computed on as plain floats (which the compiler vectorises),
// and the results rounded once into the tensor; when the tensor is already in the compute type,
// in place, with no copies. Conversions: convert_bulk.h (the same rounding as convert<>()).
#include <cstdint>
#include <type_traits>
#include <vector>

#include "halfgrad/kernels/cpu/convert_bulk.h"

namespace hg::kernels::cpu {

// src [0, n) in the compute type C (the buffer's element type: a std::vector, or a
// ScratchVector in the conv kernels): itself when T is C, else widened into buffer.
template <typename T, typename Vector, typename C = typename Vector::value_type>
const C* as_compute(const T* src, int64_t n, Vector& buffer) {
  if constexpr (std::is_same_v<T, C>) {
    (void)n, (void)buffer;
    return src;
  } else {
    buffer.resize(static_cast<size_t>(n));
    widen_n(src, buffer.data(), n);
    return buffer.data();
  }
}

// Where a result of n values for `to` is computed: in place when T is the compute type, else in
// `buffer`, rounded into `to` by round_into().
template <typename T, typename C>
C* result_buffer(T* to, int64_t n, std::vector<C>& buffer) {
  if constexpr (std::is_same_v<T, C>) {
    return to;
  } else {
    buffer.resize(static_cast<size_t>(n));
    return buffer.data();
  }
}

template <typename T, typename C>
void round_into(const C* result, T* to, int64_t n) {
  if constexpr (!std::is_same_v<T, C>) narrow_n(result, to, n);
}

}  // namespace hg::kernels::cpu
