#pragma once
// The implicit-GEMM convolution for fp16/bf16 (kernels/cuda/conv_igemm.cu, conv_igemm_wgrad.cu):
// the tensor cores read im2col's columns straight from x instead of their being written out.
// conv.cu takes it for the forward, stride-1 grad_x (itself a forward convolution) and the
// weight gradient when cuda::implicit_gemm_conv() is on and supported() says the shape fits.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>

#include "halfgrad/kernels/cuda/conv_igemm_tiles.h"

namespace hg::cuda::igemm {

// out [n, cout, ho, wo] = conv(x [n, cin, h, w], w [cout, cin / groups, 3, 3]) (+ bias [cout]),
// all contiguous; fp32 accumulation, one rounding per output (the bias added before it).
template <typename T>
void conv_forward(const ConvDims& d, const T* x, const T* w, const T* bias, T* out);

// grad_weight [cout, cin / groups, 3, 3] = the weight gradient of that convolution for
// grad_out [n, cout, ho, wo] (kernels/cuda/conv_igemm_wgrad.cu): fp32 partial sums over slices
// of the pixels, added in a fixed order and rounded once.
template <typename T>
void weight_grad(const ConvDims& d, const T* x, const T* grad_out, T* grad_weight);

}  // namespace hg::cuda::igemm
