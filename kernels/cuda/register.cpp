// Fills the CUDA column of the core kernel tables when the library is loaded. The tables are
// constant-initialised (kernels/tables.cpp), so they exist before this runs.
#include "halfgrad/kernels/cuda/cuda_kernels.h"
#include "halfgrad/kernels/random_kernels.h"

namespace hg::cuda {

void random_fill(kernels::RandomKind kind, const kernels::TensorView& out,
                 const kernels::RandomParams& params, uint64_t seed, uint64_t offset);

namespace {

[[maybe_unused]] const bool kernels_registered = [] {
  kernels::copy.set(DeviceType::CUDA, &copy);
  kernels::fill.set(DeviceType::CUDA, &fill);
  kernels::unary.set(DeviceType::CUDA, &unary);
  kernels::unary_backward.set(DeviceType::CUDA, &unary_backward);
  kernels::binary.set(DeviceType::CUDA, &binary);
  kernels::where.set(DeviceType::CUDA, &where);
  kernels::reduce.set(DeviceType::CUDA, &reduce);
  kernels::arg_reduce.set(DeviceType::CUDA, &arg_reduce);
  kernels::argsort.set(DeviceType::CUDA, &argsort);
  kernels::cumsum.set(DeviceType::CUDA, &cumsum);
  kernels::gemm.set(DeviceType::CUDA, &gemm);
  kernels::gemm_bias.set(DeviceType::CUDA, &gemm_bias);
  kernels::gemm_bias_grad.set(DeviceType::CUDA, &gemm_bias_grad);
  kernels::softmax.set(DeviceType::CUDA, &softmax);
  kernels::softmax_backward.set(DeviceType::CUDA, &softmax_backward);
  kernels::random_fill.set(DeviceType::CUDA, &random_fill);
  return true;
}();

}  // namespace
}  // namespace hg::cuda
