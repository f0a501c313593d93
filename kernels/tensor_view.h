#pragma once
// TensorView: what a kernel sees of a tensor. A plain struct (pointer, dtype, sizes, strides in
// elements) so that .cu files never include core/tensor.h. Broadcast operands arrive with
// stride 0 in the broadcast dims and the output's sizes.
#include <cstdint>

#include "core/dtype.h"

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

// The vector [n] repeated as each of `rows` rows: [rows, n] with stride 0 down the rows.
inline TensorView broadcast_rows(const TensorView& vector, int64_t rows) {
  TensorView v = vector;
  v.ndim = 2;
  v.sizes[0] = rows, v.sizes[1] = vector.sizes[0];
  v.strides[0] = 0, v.strides[1] = vector.strides[0];
  return v;
}

}  // namespace hg::kernels
