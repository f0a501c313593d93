#pragma once
// GELU for 16-bit tensors on the GPU: x * Phi(x), with Phi from a one-formula erfc instead of
// CUDA's erff.
//
// Why: bf16 GELU is compute-bound on an H200. At copy speed (about 4.1 TB/s, 4 bytes an element)
// the SMs have room for about 32 instructions an element; with erff (about 40 PTX instructions an
// element and two branches) the kernel ran at 0.49 of copy speed (session 10). The form below
// takes about 20 arithmetic instructions, one reciprocal and one exp2, and no branch.
//
// Why it is accurate enough: the erfc fit (Numerical Recipes' erfcc, a Chebyshev fit in
// t = 1 / (1 + z/2)) has a relative error under 1.2e-7 in exact arithmetic, and float rounding
// (mostly of z^2 in the exponent) brings it to about 1e-5 at worst; one bf16 ulp is 4e-3 and one
// fp16 ulp 5e-4. Writing Phi through erfc also keeps its relative accuracy for negative x, where
// the CPU's 0.5 x (1 + erf(x / sqrt 2)) cancels (and returns 0 below about -5.5).
// tests/kernels/test_gelu_16bit.cpp compares this header on the host with the CPU kernel for
// every finite fp16 and bf16 input.
//
// fp32 and fp64 keep the CPU's erf formula (kernels/cuda/unary.cu): there the kernel is
// memory-bound anyway, and results stay within an ulp or so of the CPU's.
#include <cmath>

#include "halfgrad/core/half.h"  // HG_HD

namespace hg::cuda::gelu16 {

// 1 / d: the hardware's approximate reciprocal on the device (2 ulp; 0 for d > 2^126, which
// here only happens for |x| > 2^126, where erfc is 0 anyway).
HG_HD inline float reciprocal(float d) {
#ifdef __CUDA_ARCH__
  return __fdividef(1.0f, d);
#else
  return 1.0f / d;
#endif
}

// 2^v: one MUFU.EX2 on the device (2 ulp, results below 2^-126 flushed to zero).
HG_HD inline float exp2_approx(float v) {
#ifdef __CUDA_ARCH__
  float r;
  asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(r) : "f"(v));
  return r;
#else
  return std::exp2(v);
#endif
}

// erfc(z) / 2 for z >= 0 (+inf gives 0, NaN gives NaN).
HG_HD inline float half_erfc(float z) {
  constexpr float kLog2e = 1.44269504088896340736f;
  const float t = reciprocal(fmaf(0.5f, z, 1.0f));
  float p = 0.17087277f;  // the fit's coefficients, highest power of t first
  p = fmaf(p, t, -0.82215223f);
  p = fmaf(p, t, 1.48851587f);
  p = fmaf(p, t, -1.13520398f);
  p = fmaf(p, t, 0.27886807f);
  p = fmaf(p, t, -0.18628806f);
  p = fmaf(p, t, 0.09678418f);
  p = fmaf(p, t, 0.37409196f);
  p = fmaf(p, t, 1.00002368f);
  p = fmaf(p, t, -1.26551223f);
  // erfc(z) / 2 = t exp(p - z^2) / 2 = t 2^((p - z^2) log2 e - 1)
  return t * exp2_approx(fmaf(fmaf(-z, z, p), kLog2e, -1.0f));
}

// x Phi(x), with Phi(x) = erfc(-x / sqrt 2) / 2, which is 1 - erfc(|x| / sqrt 2) / 2 for x >= 0.
HG_HD inline float gelu(float x) {
  constexpr float kSqrtHalf = 0.70710678118654752440f;
  const float tail = half_erfc(fabsf(x) * kSqrtHalf);
  return x * (x >= 0.0f ? 1.0f - tail : tail);
}

}  // namespace hg::cuda::gelu16
