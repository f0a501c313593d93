#include "halfgrad/nn/init.h"

#include <cmath>

#include "halfgrad/autograd/grad_mode.h"
#include "halfgrad/autograd/ops.h"
#include "halfgrad/core/error.h"
#include "halfgrad/core/factories.h"

namespace hg::nn::init {

namespace {
int64_t receptive_field(const Tensor& w) {
  int64_t r = 1;
  for (int64_t d = 2; d < w.dim(); ++d) r *= w.size(d);
  return r;
}
}  // namespace

int64_t fan_in(const Tensor& w) {
  HG_CHECK(w.dim() >= 2, "init: fan_in needs a tensor with >= 2 dims, got ", describe(w));
  return w.size(1) * receptive_field(w);
}

int64_t fan_out(const Tensor& w) {
  HG_CHECK(w.dim() >= 2, "init: fan_out needs a tensor with >= 2 dims, got ", describe(w));
  return w.size(0) * receptive_field(w);
}

void uniform_(const Tensor& t, double low, double high) {
  if (t.defined() && t.numel() == 0)
    return;  // nothing to fill (PyTorch warns); its bound may be inf
  HG_CHECK(t.defined() && t.is_floating_point(), "init::uniform_: expected a floating tensor, got ",
           describe(t));
  HG_CHECK(std::isfinite(low) && std::isfinite(high) && low <= high,
           "init::uniform_: expected a finite range low <= high, got [", low, ", ", high, ") for ",
           describe(t));
  NoGradGuard no_grad;
  Tensor(t).copy_(rand(t.sizes(), TensorOptions(t.dtype() == kFloat64 ? kFloat64 : kFloat32)) *
                      (high - low) +
                  low);
}

void normal_(const Tensor& t, double mean, double stddev) {
  if (t.defined() && t.numel() == 0) return;
  HG_CHECK(t.defined() && t.is_floating_point(), "init::normal_: expected a floating tensor, got ",
           describe(t));
  HG_CHECK(std::isfinite(mean) && std::isfinite(stddev) && stddev >= 0,
           "init::normal_: expected a finite mean and stddev >= 0, got mean ", mean, ", stddev ",
           stddev, " for ", describe(t));
  NoGradGuard no_grad;
  Tensor(t).copy_(
      randn(t.sizes(), TensorOptions(t.dtype() == kFloat64 ? kFloat64 : kFloat32)) * stddev + mean);
}

void constant_(const Tensor& t, double value) {
  NoGradGuard no_grad;
  Tensor(t).fill_(value);
}

double calculate_gain(Nonlinearity nonlinearity, double param) {
  switch (nonlinearity) {
    case Nonlinearity::Linear:
    case Nonlinearity::Sigmoid:
      return 1.0;
    case Nonlinearity::Tanh:
      return 5.0 / 3.0;
    case Nonlinearity::Relu:
      return std::sqrt(2.0);
    case Nonlinearity::LeakyRelu:
      HG_CHECK(std::isfinite(param), "init::calculate_gain: leaky_relu needs a finite negative ",
               "slope, got ", param);
      return std::sqrt(2.0 / (1.0 + param * param));
    case Nonlinearity::Selu:
      return 0.75;
  }
  return 1.0;
}

namespace {
double kaiming_fan(const Tensor& t, FanMode mode) {
  return static_cast<double>(mode == FanMode::FanIn ? fan_in(t) : fan_out(t));
}
}  // namespace

void kaiming_uniform_(const Tensor& t, double a, FanMode mode, Nonlinearity nonlinearity) {
  const double gain = calculate_gain(nonlinearity, a);
  const double bound = gain * std::sqrt(3.0 / kaiming_fan(t, mode));
  uniform_(t, -bound, bound);
}

void kaiming_normal_(const Tensor& t, double a, FanMode mode, Nonlinearity nonlinearity) {
  const double gain = calculate_gain(nonlinearity, a);
  normal_(t, 0.0, gain / std::sqrt(kaiming_fan(t, mode)));
}

void xavier_uniform_(const Tensor& t, double gain) {
  const double bound = gain * std::sqrt(6.0 / static_cast<double>(fan_in(t) + fan_out(t)));
  uniform_(t, -bound, bound);
}

void xavier_normal_(const Tensor& t, double gain) {
  normal_(t, 0.0, gain * std::sqrt(2.0 / static_cast<double>(fan_in(t) + fan_out(t))));
}

void default_weight_and_bias_(const Tensor& weight, const Tensor& bias) {
  kaiming_uniform_(weight, std::sqrt(5.0));
  if (!bias.defined()) return;
  const auto inputs = static_cast<double>(fan_in(weight));
  const double bound = inputs > 0 ? 1.0 / std::sqrt(inputs) : 0.0;  // no inputs: a zero bias
  uniform_(bias, -bound, bound);
}

}  // namespace hg::nn::init
