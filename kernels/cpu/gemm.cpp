// Batched GEMM on the CPU through BLAS (kernels/cpu/blas.h). fp16/bf16 operands are widened to
// float once per call, multiplied with fp32 accumulation, and rounded once on store: the same
// numerics as cuBLAS with compute type 32F. bf16 operands on a CPU with AVX-512 BF16 go to
// kernels/cpu/gemm_bf16.h instead, which multiplies them as they are (the same fp32 sums of exact
// products), and only the result is a float copy.
#include <algorithm>
#include <numeric>
#include <vector>

#include "halfgrad/kernels/cpu/blas.h"
#include "halfgrad/kernels/cpu/cpu_kernels.h"
#include "halfgrad/kernels/cpu/gemm_bf16.h"
#include "halfgrad/kernels/cpu/loops.h"
#include "halfgrad/kernels/cpu/scratch_vector.h"

namespace hg::kernels::cpu {

namespace {

// A 2-D operand as BLAS wants it: pointer, transposed or not, leading dimension.
template <typename T>
struct BlasOperand {
  const T* data;
  bool trans;
  int64_t ld;
};

// Uses the matrix in place when one of its two dims is unit-stride; otherwise packs it.
template <typename T>
BlasOperand<T> as_blas_operand(const T* data, int64_t rows, int64_t cols, int64_t row_stride,
                               int64_t col_stride, std::vector<T>& scratch) {
  if (col_stride == 1 && row_stride >= std::max<int64_t>(cols, 1)) return {data, false, row_stride};
  if (row_stride == 1 && col_stride >= std::max<int64_t>(rows, 1)) return {data, true, col_stride};
  scratch.resize(static_cast<size_t>(rows * cols));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      scratch[r * cols + c] = data[r * row_stride + c * col_stride];
  return {scratch.data(), false, std::max<int64_t>(cols, 1)};
}

template <typename T>
void blas_gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const T* a, int64_t lda,
               const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  if constexpr (std::is_same_v<T, double>) {
    dgemm(ta, tb, m, n, k, 1.0, a, lda, b, ldb, beta, c, ldc);
  } else {
    sgemm(ta, tb, m, n, k, 1.0f, a, lda, b, ldb, beta, c, ldc);
  }
}

// T is float or double; a/b/c are views of that dtype.
// Element offset of batch entry `index` (row-major over the leading ndim-2 dims) in v.
int64_t batch_offset(const TensorView& v, int64_t index) {
  int64_t offset = 0;
  for (int d = v.ndim - 3; d >= 0; --d) {
    offset += (index % v.sizes[d]) * v.strides[d];
    index /= v.sizes[d];
  }
  return offset;
}

// Products of fewer multiply-adds than this run on one thread each, so a batch of them is spread
// over the threads instead (attention's per-head products, e.g. 28 x 28 x 16): one product per
// thread at a time, every product summed by one thread in one order, so the bits do not depend
// on the thread count. Larger products run one after another, each on all the threads.
constexpr int64_t kSmallProductMacs = int64_t{1} << 18;

// Calls product(i) for i in [0, batch): on the threads when the products are small.
template <typename F>
void for_each_product(int64_t batch, int64_t macs, F&& product) {
  for_each_piece(batch, macs < kSmallProductMacs, product);
}

template <typename T>
void gemm_native(const TensorView& a, const TensorView& b, const TensorView& c, bool accumulate) {
  const int r = c.ndim - 2;  // the matrix dims are r and r + 1
  const int64_t m = c.sizes[r], n = c.sizes[r + 1], k = a.sizes[r + 1];
  int64_t batch = 1;
  for (int d = 0; d < r; ++d) batch *= c.sizes[d];
  for_each_product(batch, m * n * k, [&](int64_t i) {
    thread_local std::vector<T> scratch_a, scratch_b;  // for operands with no unit stride
    const T* pa = a.ptr<T>() + batch_offset(a, i);
    const T* pb = b.ptr<T>() + batch_offset(b, i);
    T* pc = c.ptr<T>() + batch_offset(c, i);
    const auto oa = as_blas_operand(pa, m, k, a.strides[r], a.strides[r + 1], scratch_a);
    const auto ob = as_blas_operand(pb, k, n, b.strides[r], b.strides[r + 1], scratch_b);
    blas_gemm<T>(oa.trans, ob.trans, m, n, k, oa.data, oa.ld, ob.data, ob.ld,
                 accumulate ? T(1) : T(0), pc, std::max<int64_t>(n, 1));
  });
}

// A float copy of a 16-bit view. Broadcast (stride-0) dims stay stride 0 in the copy, so a
// weight shared by the whole batch is widened once. The copy keeps the view's memory order (a
// transposed weight stays transposed, and BLAS reads it with its trans flag): source and copy
// are then both contiguous runs and the widening takes the 8-wide bulk path instead of a
// strided element-by-element conversion.
TensorView widen(const TensorView& v, ScratchVector<float>& buffer) {
  TensorView src = v, wide = v;
  wide.dtype = DType::Float32;
  for (int d = 0; d < v.ndim; ++d)
    if (v.strides[d] == 0) src.sizes[d] = 1;
  int order[kMaxDims];  // dims from the largest source stride to the smallest
  std::iota(order, order + v.ndim, 0);
  std::stable_sort(order, order + v.ndim,
                   [&](int x, int y) { return v.strides[x] > v.strides[y]; });
  int64_t stride = 1;
  for (int j = v.ndim - 1; j >= 0; --j) {
    const int d = order[j];
    wide.strides[d] = v.strides[d] == 0 ? 0 : stride;
    stride *= src.sizes[d];
  }
  buffer.resize(static_cast<size_t>(stride));
  wide.data = buffer.data();
  TensorView from = src, to = wide;  // both in memory order, so copy() sees contiguous runs
  for (int j = 0; j < v.ndim; ++j) {
    from.sizes[j] = to.sizes[j] = src.sizes[order[j]];
    from.strides[j] = src.strides[order[j]];
    to.strides[j] = wide.strides[order[j]];
  }
  copy(from, to);
  return wide;
}

// bf16 a and b into the float result fc (laid out as gemm_native's c), by gemm_bf16.
void gemm_bf16_batched(const TensorView& a, const TensorView& b, const TensorView& fc,
                       bool accumulate) {
  const int r = fc.ndim - 2;
  const int64_t m = fc.sizes[r], n = fc.sizes[r + 1], k = a.sizes[r + 1];
  int64_t batch = 1;
  for (int d = 0; d < r; ++d) batch *= fc.sizes[d];
  for_each_product(batch, m * n * k, [&](int64_t i) {
    const MatrixRef<BFloat16> ma{a.ptr<BFloat16>() + batch_offset(a, i), a.strides[r],
                                 a.strides[r + 1]};
    const MatrixRef<BFloat16> mb{b.ptr<BFloat16>() + batch_offset(b, i), b.strides[r],
                                 b.strides[r + 1]};
    gemm_bf16(m, n, k, ma, mb, accumulate ? 1.0f : 0.0f, fc.ptr<float>() + batch_offset(fc, i),
              std::max<int64_t>(n, 1));
  });
}

}  // namespace

void gemm(const TensorView& a, const TensorView& b, const TensorView& c, bool accumulate) {
  switch (c.dtype) {
    case DType::Float32:
      return gemm_native<float>(a, b, c, accumulate);
    case DType::Float64:
      return gemm_native<double>(a, b, c, accumulate);
    case DType::Float16:
    case DType::BFloat16: {
      ScratchVector<float> wa, wb, wc;  // (not zeroed: written whole)
      const TensorView fc = accumulate ? widen(c, wc) : [&] {
        TensorView v = c;
        v.dtype = DType::Float32;
        wc.resize(static_cast<size_t>(c.numel()));
        v.data = wc.data();
        return v;
      }();
      if (c.dtype == DType::BFloat16 && a.dtype == c.dtype && b.dtype == c.dtype &&
          bf16_gemm_enabled())
        gemm_bf16_batched(a, b, fc, accumulate);
      else
        gemm_native<float>(widen(a, wa), widen(b, wb), fc, accumulate);
      copy(fc, c);  // the single rounding to 16 bits
      return;
    }
    default:
      HG_FAIL("gemm: expected a floating dtype, got ", dtype_name(c.dtype));
  }
}

void gemm_bias(const TensorView& a, const TensorView& b, const TensorView& bias,
               const TensorView& c) {
  copy(broadcast_rows(bias, c.sizes[0]), c);
  gemm(a, b, c, true);  // bias + product, one rounding
}

void gemm_bias_grad(const TensorView& a, const TensorView& b, const TensorView& c,
                    const TensorView& bias_grad) {
  gemm(a, b, c, false);
  TensorView in, out;
  row_sums_as_reduce(a, bias_grad, in, out);
  reduce(ReduceOp::Sum, in, out);
}

}  // namespace hg::kernels::cpu
