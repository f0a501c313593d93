// Fills the CUDA column of the AMP and fused-optimizer tables (kernels/amp_tables.cpp).
#include "halfgrad/kernels/cuda/cuda_amp_kernels.h"

namespace hg::kernels::cuda {
namespace {

struct RegisterAmpKernels {
  RegisterAmpKernels() {
    kernels::unscale_grads.set(DeviceType::CUDA, cuda::unscale_grads);
    kernels::cast_tensors.set(DeviceType::CUDA, cuda::cast_tensors);
    kernels::scale_update.set(DeviceType::CUDA, cuda::scale_update);
    kernels::fused_sgd.set(DeviceType::CUDA, cuda::fused_sgd);
    kernels::fused_adam.set(DeviceType::CUDA, cuda::fused_adam);
    kernels::fused_rmsprop.set(DeviceType::CUDA, cuda::fused_rmsprop);
    kernels::fused_adagrad.set(DeviceType::CUDA, cuda::fused_adagrad);
  }
};
const RegisterAmpKernels amp_kernels_registered;

}  // namespace
}  // namespace hg::kernels::cuda
