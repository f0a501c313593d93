#pragma once
// Parameter initialisation, PyTorch's defaults: Linear and Conv2d use kaiming_uniform_ with
// a = sqrt(5) (bound 1 / sqrt(fan_in)) for the weight and uniform(+-1 / sqrt(fan_in)) for the
// bias, so the same architecture starts (statistically) alike in both frameworks. All draws
// come from the default generator.
#include "halfgrad/core/tensor.h"

namespace hg::nn::init {

// fan_in = size(1) * receptive field; fan_out = size(0) * receptive field.
int64_t fan_in(const Tensor& weight);
int64_t fan_out(const Tensor& weight);

// Which fan the kaiming initialisers scale by: fan_in keeps the forward pass's variance,
// fan_out the backward pass's.
enum class FanMode { FanIn, FanOut };
enum class Nonlinearity { Linear, Sigmoid, Tanh, Relu, LeakyRelu, Selu };
// PyTorch's calculate_gain: 1 (linear, conv, sigmoid), 5/3 (tanh), sqrt(2) (relu),
// sqrt(2 / (1 + slope^2)) (leaky_relu, slope = param), 3/4 (selu).
double calculate_gain(Nonlinearity nonlinearity, double param = 0.01);

void uniform_(const Tensor& t, double low, double high);
void normal_(const Tensor& t, double mean = 0.0, double stddev = 1.0);
void constant_(const Tensor& t, double value);
// gain = calculate_gain(nonlinearity, a) (sqrt(2 / (1 + a^2)) by default); bound =
// gain * sqrt(3 / fan), std = gain / sqrt(fan), fan per mode: PyTorch's signatures.
void kaiming_uniform_(const Tensor& t, double a = 0.0, FanMode mode = FanMode::FanIn,
                      Nonlinearity nonlinearity = Nonlinearity::LeakyRelu);
void kaiming_normal_(const Tensor& t, double a = 0.0, FanMode mode = FanMode::FanIn,
                     Nonlinearity nonlinearity = Nonlinearity::LeakyRelu);
// bound = gain * sqrt(6 / (fan_in + fan_out)); std = gain * sqrt(2 / (fan_in + fan_out))
void xavier_uniform_(const Tensor& t, double gain = 1.0);
void xavier_normal_(const Tensor& t, double gain = 1.0);

// The default of Linear, Conv1d and Conv2d: kaiming_uniform_(weight, sqrt(5)) and the bias (if
// defined) uniform in +-1 / sqrt(fan_in(weight)), zero when the layer has no inputs.
void default_weight_and_bias_(const Tensor& weight, const Tensor& bias);

}  // namespace hg::nn::init
