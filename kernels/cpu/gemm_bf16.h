#pragma once
// A GEMM with bf16 operands and fp32 sums for CPUs with AVX-512 BF16 (kernels/cpu/gemm_bf16.cpp).
// Its instruction, vdpbf16ps, multiplies pairs of bf16 values exactly and adds both products to
// an fp32 sum, rounding to nearest even: the numerics of widening the operands to float and
// calling sgemm (fp32 sums of exact products), at about twice sgemm's multiply-adds per cycle and
// without the widened copies. Two differences: the sums run in another order, and the
// instruction flushes subnormal bf16 inputs and subnormal fp32 results to zero (below 1.2e-38,
// the same for bf16 and fp32). docs/numerics.md says where halfgrad uses it.
#include <cstdint>

#include "halfgrad/core/half.h"

namespace hg::kernels::cpu {

// A matrix operand: element (i, j) at data[i * row_stride + j * col_stride], any strides.
template <typename S>
struct MatrixRef {
  const S* data;
  int64_t row_stride;
  int64_t col_stride;
};

// Whether this CPU has AVX-512 F, BW and BF16 (what gemm_bf16 needs).
bool bf16_gemm_supported();

// Whether halfgrad's bf16 GEMMs and convolutions use gemm_bf16 on this machine: the CPU has AVX-512
// F, BW and BF16, and the environment does not say HG_CPU_BF16_GEMM=0 (which keeps the widening
// sgemm path, e.g. to compare the two). Decided on the first call.
bool bf16_gemm_enabled();

// C [m, n] (row stride ldc, unit column stride) = A [m, k] B [k, n] + beta C. beta == 0: C is
// only written. Needs bf16_gemm_supported(). A and B may each be BFloat16 or float (all four
// mixes are instantiated in kernels/cpu/gemm_bf16.cpp); float operands must hold bf16 values
// (widened bf16, as the convolution's weights and grad_out are when the tensors are bf16): their
// low 16 bits are dropped. Runs on the OpenMP threads when called outside a parallel region and
// the product is large enough; each element's sum is the same whatever the thread count.
template <typename SA, typename SB>
void gemm_bf16(int64_t m, int64_t n, int64_t k, MatrixRef<SA> a, MatrixRef<SB> b, float beta,
               float* c, int64_t ldc);

}  // namespace hg::kernels::cpu
