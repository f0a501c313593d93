#pragma once
// Parameter initialisation, PyTorch's defaults: Linear and Conv2d use kaiming_uniform_ with
// a = sqrt(5) (bound 1 / sqrt(fan_in)) for the weight and uniform(+-1 / sqrt(fan_in)) for the
// bias, so the same architecture starts (statistically) alike in both frameworks. All draws
// come from the default generator.
#include "core/tensor.h"

namespace hg::nn::init {

// fan_in = size(1) * receptive field; fan_out = size(0) * receptive field.
int64_t fan_in(const Tensor& weight);
int64_t fan_out(const Tensor& weight);

void uniform_(const Tensor& t, double low, double high);
void normal_(const Tensor& t, double mean = 0.0, double stddev = 1.0);
void constant_(const Tensor& t, double value);
// gain = sqrt(2 / (1 + a^2)); bound = gain * sqrt(3 / fan_in)
void kaiming_uniform_(const Tensor& t, double a = 0.0);
void kaiming_normal_(const Tensor& t, double a = 0.0);
void xavier_uniform_(const Tensor& t, double gain = 1.0);

}  // namespace hg::nn::init
