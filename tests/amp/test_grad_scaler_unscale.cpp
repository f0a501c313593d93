// GradScaler::unscale_ through the multi-tensor unscale family (kernels/amp_kernels.h): every
// gradient dtype and layout in one call, the same values as grad.to(float32) * float(1 / scale)
// (float64 gradients: in double).
#include <doctest/doctest.h>

#include <limits>
#include <vector>

#include "test_util.h"

using namespace hg;

TEST_CASE("grad scaler: unscale_ handles every dtype and a strided fp32 gradient in one pass") {
  manual_seed(61);
  const double scale = 3000.0;  // not a power of two: the products round
  std::vector<Tensor> params, grads;
  for (DType dtype : {kFloat32, kFloat16, kBFloat16, kFloat64}) {
    params.push_back(zeros({3, 5}, TensorOptions(dtype)).requires_grad_());
    grads.push_back((randn({3, 5}) * 1000.0).to(dtype));
  }
  params.push_back(zeros({5, 3}).requires_grad_());
  grads.push_back((randn({3, 5}) * 1000.0).t());  // a transposed, non-contiguous gradient
  for (size_t i = 0; i < params.size(); ++i) params[i].set_grad(grads[i].clone().detach());
  params[4].set_grad(grads[4]);  // keep the strided layout
  grads[4] = grads[4].clone();   // (the scaler writes the gradient itself)
  const uint64_t fp32_version = params[0].grad().version();
  optim::SGD opt(params, optim::SGDOptions(0.0));
  amp::GradScaler scaler(amp::GradScalerOptions().init_scale(scale));
  scaler.unscale_(opt);
  for (size_t i = 0; i < params.size(); ++i) {
    CAPTURE(i);
    const Tensor inv = scalar_tensor(static_cast<float>(1.0 / scale));  // float(1 / scale)
    const Tensor expected = grads[i].dtype() == kFloat64 ? grads[i] * inv.to(kFloat64)  // double
                                                         : grads[i].to(kFloat32) * inv;
    const Tensor got = params[i].grad();
    CHECK(got.dtype() == (is_low_precision(grads[i].dtype()) ? kFloat32 : grads[i].dtype()));
    CHECK(hg::test::values(got) == hg::test::values(expected.to(got.dtype())));
  }
  CHECK(params[0].grad().version() > fp32_version);  // written in place, version bumped
  CHECK(scaler.step(opt));
  scaler.update();

  params[2].set_grad(
      full({3, 5}, std::numeric_limits<double>::quiet_NaN(), TensorOptions(kBFloat16)));
  scaler.set_parameter_names({{"bf16.weight", params[2]}});
  CHECK_FALSE(scaler.step(opt));
  CHECK(scaler.last_skip_reason().find("in 1 of 5 parameters: bf16.weight") != std::string::npos);
}

TEST_CASE("grad scaler: float64 gradients unscale in double, so finite ones never skip a step") {
  // in float, 1e300 / 1024 was inf (a skipped step, the scale backed off), 1e-50 flushed to
  // zero and 1 + 1e-12 lost its tail; PyTorch's unscale computes double gradients in double
  for (bool on_device_state : {false, true}) {
    CAPTURE(on_device_state);
    Tensor p = zeros({3}, TensorOptions(kFloat64)).requires_grad_();
    optim::SGD opt({p}, optim::SGDOptions(1.0));
    amp::GradScaler scaler(amp::GradScalerOptions().init_scale(1024).device_state(on_device_state));
    const std::vector<double> scaled{1024 * (1 + 1e-12), 1e300, 1024e-50};
    p.set_grad(from_vector(scaled, TensorOptions(kFloat64)));
    scaler.unscale_(opt);
    CHECK(hg::test::values(p.grad()) ==
          std::vector<double>{scaled[0] / 1024, scaled[1] / 1024, scaled[2] / 1024});
    CHECK(scaler.step(opt));
    scaler.update();
    CHECK(scaler.get_scale() == 1024.0);
  }
}
