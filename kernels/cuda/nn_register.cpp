// Fills the CUDA column of the nn dispatch tables (kernels/nn_tables.cpp) when the library
// loads. The tables are constant-initialised, so they exist before this constructor runs.
#include "halfgrad/kernels/cuda/cuda_attention_kernels.h"
#include "halfgrad/kernels/cuda/cuda_fused_nn_kernels.h"
#include "halfgrad/kernels/cuda/cuda_nn_kernels.h"
#include "halfgrad/kernels/cuda/cuda_recurrent_kernels.h"

namespace hg::kernels::cuda {
namespace {

struct RegisterNnKernels {
  RegisterNnKernels() {
    constexpr DeviceType kCuda = DeviceType::CUDA;
    kernels::conv2d.set(kCuda, cuda::conv2d);
    kernels::conv2d_backward.set(kCuda, cuda::conv2d_backward);
    kernels::max_pool2d.set(kCuda, cuda::max_pool2d);
    kernels::max_pool2d_backward.set(kCuda, cuda::max_pool2d_backward);
    kernels::avg_pool2d.set(kCuda, cuda::avg_pool2d);
    kernels::avg_pool2d_backward.set(kCuda, cuda::avg_pool2d_backward);
    kernels::adaptive_pool2d.set(kCuda, cuda::adaptive_pool2d);
    kernels::adaptive_avg_pool2d_backward.set(kCuda, cuda::adaptive_avg_pool2d_backward);
    kernels::batch_norm.set(kCuda, cuda::batch_norm);
    kernels::batch_norm_backward.set(kCuda, cuda::batch_norm_backward);
    kernels::batch_norm_running_stats.set(kCuda, cuda::batch_norm_running_stats);
    kernels::layer_norm.set(kCuda, cuda::layer_norm);
    kernels::layer_norm_backward.set(kCuda, cuda::layer_norm_backward);
    kernels::nll_loss.set(kCuda, cuda::nll_loss);
    kernels::nll_loss_backward.set(kCuda, cuda::nll_loss_backward);
    kernels::embedding.set(kCuda, cuda::embedding);
    kernels::embedding_backward.set(kCuda, cuda::embedding_backward);
    kernels::dropout.set(kCuda, cuda::dropout);
    kernels::cross_entropy.set(kCuda, cuda::cross_entropy);
    kernels::cross_entropy_backward.set(kCuda, cuda::cross_entropy_backward);
    kernels::mean_over_targets.set(kCuda, cuda::mean_over_targets);
    kernels::mean_over_targets_backward.set(kCuda, cuda::mean_over_targets_backward);
    kernels::lstm_cell.set(kCuda, cuda::lstm_cell);
    kernels::lstm_cell_backward.set(kCuda, cuda::lstm_cell_backward);
    kernels::gru_cell.set(kCuda, cuda::gru_cell);
    kernels::gru_cell_backward.set(kCuda, cuda::gru_cell_backward);
    kernels::attention.set(kCuda, cuda::attention);
    kernels::attention_backward.set(kCuda, cuda::attention_backward);
  }
};
const RegisterNnKernels nn_kernels_registered;

}  // namespace
}  // namespace hg::kernels::cuda
