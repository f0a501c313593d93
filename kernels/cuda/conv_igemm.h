#pragma once
// The implicit-GEMM convolution for fp16/bf16 (kernels/cuda/conv_igemm.cu): the forward
// convolution on the tensor cores, reading the im2col columns straight from x instead of
// writing them out. conv.cu takes it for the forward and for stride-1 grad_x (itself a forward
// convolution) when cuda::implicit_gemm_conv() is on and igemm::usable() says the shape fits.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>

#include "kernels/cuda/conv_igemm_tiles.h"

namespace hg::cuda::igemm {

// supported(d) and weights aligned for 16-byte loads.
bool usable(const ConvDims& d, const void* weight);

// out [n, cout, ho, wo] = conv(x [n, cin, h, w], w [cout, cin / groups, 3, 3]) (+ bias [cout]),
// all contiguous; fp32 accumulation, one rounding per output (the bias added before it).
template <typename T>
void conv_forward(const ConvDims& d, const T* x, const T* w, const T* bias, T* out);

}  // namespace hg::cuda::igemm
