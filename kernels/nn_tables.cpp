#include "halfgrad/kernels/cpu/cpu_nn_kernels.h"

namespace hg::kernels {

DispatchTable<Conv2dFn> conv2d{"conv2d", {cpu::conv2d, nullptr}};
DispatchTable<Conv2dBackwardFn> conv2d_backward{"conv2d_backward", {cpu::conv2d_backward, nullptr}};
DispatchTable<MaxPool2dFn> max_pool2d{"max_pool2d", {cpu::max_pool2d, nullptr}};
DispatchTable<MaxPool2dBackwardFn> max_pool2d_backward{"max_pool2d_backward",
                                                       {cpu::max_pool2d_backward, nullptr}};
DispatchTable<AvgPool2dFn> avg_pool2d{"avg_pool2d", {cpu::avg_pool2d, nullptr}};
DispatchTable<AvgPool2dBackwardFn> avg_pool2d_backward{"avg_pool2d_backward",
                                                       {cpu::avg_pool2d_backward, nullptr}};
DispatchTable<AdaptivePool2dFn> adaptive_pool2d{"adaptive_pool2d", {cpu::adaptive_pool2d, nullptr}};
DispatchTable<AdaptiveAvgPool2dBackwardFn> adaptive_avg_pool2d_backward{
    "adaptive_avg_pool2d_backward", {cpu::adaptive_avg_pool2d_backward, nullptr}};
DispatchTable<BatchNormFn> batch_norm{"batch_norm", {cpu::batch_norm, nullptr}};
DispatchTable<BatchNormBackwardFn> batch_norm_backward{"batch_norm_backward",
                                                       {cpu::batch_norm_backward, nullptr}};
DispatchTable<BatchNormRunningStatsFn> batch_norm_running_stats{
    "batch_norm_running_stats", {cpu::batch_norm_running_stats, nullptr}};
DispatchTable<LayerNormFn> layer_norm{"layer_norm", {cpu::layer_norm, nullptr}};
DispatchTable<LayerNormBackwardFn> layer_norm_backward{"layer_norm_backward",
                                                       {cpu::layer_norm_backward, nullptr}};
DispatchTable<NllLossFn> nll_loss{"nll_loss", {cpu::nll_loss, nullptr}};
DispatchTable<NllLossBackwardFn> nll_loss_backward{"nll_loss_backward",
                                                   {cpu::nll_loss_backward, nullptr}};
DispatchTable<EmbeddingFn> embedding{"embedding", {cpu::embedding, nullptr}};
DispatchTable<EmbeddingBackwardFn> embedding_backward{"embedding_backward",
                                                      {cpu::embedding_backward, nullptr}};

}  // namespace hg::kernels
