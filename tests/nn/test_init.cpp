// nn::init: PyTorch's gains, fan modes and the kaiming/xavier bounds and standard deviations.
#include <cmath>

#include "test_util.h"

using namespace hg;
using nn::init::FanMode;
using nn::init::Nonlinearity;

namespace {
double max_abs(const Tensor& t) { return abs(t).max().item<double>(); }
double std_of(const Tensor& t) {
  const Tensor c = t - t.mean();
  return std::sqrt((c * c).mean().item<double>());
}
}  // namespace

TEST_CASE("init: calculate_gain has PyTorch's values") {
  CHECK(nn::init::calculate_gain(Nonlinearity::Linear) == 1.0);
  CHECK(nn::init::calculate_gain(Nonlinearity::Sigmoid) == 1.0);
  CHECK(nn::init::calculate_gain(Nonlinearity::Tanh) == doctest::Approx(5.0 / 3.0));
  CHECK(nn::init::calculate_gain(Nonlinearity::Relu) == doctest::Approx(std::sqrt(2.0)));
  CHECK(nn::init::calculate_gain(Nonlinearity::LeakyRelu) ==
        doctest::Approx(std::sqrt(2.0 / (1.0 + 0.01 * 0.01))));
  CHECK(nn::init::calculate_gain(Nonlinearity::LeakyRelu, 0.2) ==
        doctest::Approx(std::sqrt(2.0 / 1.04)));
  CHECK(nn::init::calculate_gain(Nonlinearity::Selu) == 0.75);
}

TEST_CASE("init: kaiming scales by fan_in or fan_out and the nonlinearity's gain") {
  manual_seed(7);
  // [out 64, in 16, 3, 3]: fan_in 144, fan_out 576
  Tensor w = zeros({64, 16, 3, 3});
  nn::init::kaiming_uniform_(w);  // a = 0: gain sqrt(2), bound sqrt(6 / 144)
  const double in_bound = std::sqrt(6.0 / 144.0);
  CHECK(max_abs(w) <= in_bound);
  CHECK(max_abs(w) > 0.99 * in_bound);
  nn::init::kaiming_uniform_(w, 0.0, FanMode::FanOut, Nonlinearity::Relu);
  const double out_bound = std::sqrt(6.0 / 576.0);
  CHECK(max_abs(w) <= out_bound);
  CHECK(max_abs(w) > 0.99 * out_bound);
  nn::init::kaiming_normal_(w, 0.0, FanMode::FanOut, Nonlinearity::Relu);
  CHECK(std_of(w) == doctest::Approx(std::sqrt(2.0 / 576.0)).epsilon(0.03));
  nn::init::kaiming_normal_(w, 0.0, FanMode::FanIn, Nonlinearity::Tanh);
  CHECK(std_of(w) == doctest::Approx(5.0 / 3.0 / std::sqrt(144.0)).epsilon(0.03));
}

TEST_CASE("init: xavier_uniform_ and xavier_normal_ use fan_in + fan_out") {
  manual_seed(8);
  Tensor w = zeros({200, 100});
  nn::init::xavier_uniform_(w, 2.0);
  const double bound = 2.0 * std::sqrt(6.0 / 300.0);
  CHECK(max_abs(w) <= bound);
  CHECK(max_abs(w) > 0.99 * bound);
  nn::init::xavier_normal_(w);
  CHECK(std_of(w) == doctest::Approx(std::sqrt(2.0 / 300.0)).epsilon(0.03));
}
