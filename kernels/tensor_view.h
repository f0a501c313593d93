#pragma once
// TensorView: what a kernel sees of a tensor. A plain struct (pointer, dtype, sizes, strides in
// elements) so that .cu files never include core/tensor.h. Broadcast operands arrive with
// stride 0 in the broadcast dims and the output's sizes.
#include <cstdint>

#include "halfgrad/core/dtype.h"

namespace hg::kernels {

inline constexpr int kMaxDims = 8;

struct TensorView {
  void* data = nullptr;
  DType dtype = DType::Float32;
  int ndim = 0;
  int64_t sizes[kMaxDims] = {};
  int64_t strides[kMaxDims] = {};

  int64_t numel() const {
    int64_t n = 1;
    for (int i = 0; i < ndim; ++i) n *= sizes[i];
    return n;
  }
  bool is_contiguous() const {
    int64_t expected = 1;
    for (int i = ndim - 1; i >= 0; --i) {
      if (sizes[i] != 1 && strides[i] != expected) return false;
      expected *= sizes[i];
    }
    return true;
  }
  template <typename T>
  T* ptr() const {
    return static_cast<T*>(data);
  }
};

// sum_k a[i][k] for a [N, R] as reduce computes it: the reduce call of sum(a^T, {0}), whose
// output is given with a^T's sizes [R, N] and stride 0 down the rows. Fills `in` and `out`.
inline void row_sums_as_reduce(const TensorView& a, const TensorView& sums, TensorView& in,
                               TensorView& out) {
  in = a;
  in.sizes[0] = a.sizes[1], in.sizes[1] = a.sizes[0];
  in.strides[0] = a.strides[1], in.strides[1] = a.strides[0];
  out = in;
  out.data = sums.data;
  out.strides[0] = 0, out.strides[1] = sums.strides[0];
}

// The vector [n] repeated as each of `rows` rows: [rows, n] with stride 0 down the rows.
inline TensorView broadcast_rows(const TensorView& vector, int64_t rows) {
  TensorView v = vector;
  v.ndim = 2;
  v.sizes[0] = rows, v.sizes[1] = vector.sizes[0];
  v.strides[0] = 0, v.strides[1] = vector.strides[0];
  return v;
}

}  // namespace hg::kernels
