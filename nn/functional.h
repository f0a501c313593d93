#pragma once
// nn::functional: the functional forms of the layers (the same free functions as hg::).
#include "halfgrad/autograd/nn_ops.h"
#include "halfgrad/autograd/ops.h"

namespace hg::nn::functional {

using hg::adaptive_avg_pool1d;
using hg::adaptive_avg_pool2d;
using hg::adaptive_max_pool1d;
using hg::adaptive_max_pool2d;
using hg::avg_pool1d;
using hg::avg_pool2d;
using hg::batch_norm;
using hg::batch_norm_relu;
using hg::binary_cross_entropy;
using hg::binary_cross_entropy_with_logits;
using hg::conv1d;
using hg::conv2d;
using hg::cross_entropy;
using hg::dropout;
using hg::dropout2d;
using hg::elu;
using hg::embedding;
using hg::gelu;
using hg::group_norm;
using hg::huber_loss;
using hg::interpolate;
using hg::InterpolateMode;
using hg::InterpolateOptions;
using hg::l1_loss;
using hg::layer_norm;
using hg::leaky_relu;
using hg::linear;
using hg::log_softmax;
using hg::logsumexp;
using hg::max_pool1d;
using hg::max_pool2d;
using hg::mish;
using hg::mse_loss;
using hg::nll_loss;
using hg::one_hot;
using hg::pad;
using hg::PadMode;
using hg::relu;
using hg::selu;
using hg::sigmoid;
using hg::silu;
using hg::smooth_l1_loss;
using hg::softmax;
using hg::softplus;
using hg::tanh;

}  // namespace hg::nn::functional
