// A user's own differentiable op, written exactly as docs/architecture.md ("Your own op") shows,
// checked with gradcheck, under autocast, and against the misuses the engine refuses.
#include "halfgrad/halfgrad.h"
#include "test_util.h"

using namespace hg;

namespace {

// ---- the example of docs/architecture.md, verbatim ----
// y = x * x * x * w, elementwise (x and w of one shape)
class CubeTimesBackward final : public autograd::Node {
 public:
  CubeTimesBackward(const Tensor& x, const Tensor& w) : x_(x), w_(w) {}
  std::string name() const override { return "CubeTimesBackward"; }
  bool release_saved() override { return autograd::release_all(x_, w_); }
  std::vector<Tensor> apply(const std::vector<Tensor>& grads) override {
    const Tensor &x = x_.unpack(*this), &w = w_.unpack(*this);
    return {grads[0] * 3.0 * x * x * w, grads[0] * x * x * x};  // dy/dx, dy/dw
  }

 private:
  autograd::SavedTensor x_, w_;
};

Tensor cube_times(const Tensor& x_in, const Tensor& w_in) {
  const auto in = amp::autocast_custom("cube_times", {x_in, w_in});  // 1. autocast
  const Tensor &x = in[0], &w = in[1];
  HG_CHECK(x.sizes() == w.sizes(), "cube_times: ", describe(x), " and ", describe(w),
           " differ in shape");  // 2. check
  Tensor y;
  {
    NoGradGuard no_grad;  // 3. compute with ops that record nothing
    y = x * x * x * w;
  }
  if (autograd::needs_grad({&x, &w}))  // 4. record
    autograd::record_op<CubeTimesBackward>({x, w}, y, x, w);
  return y;
}
// ---- end of the example ----

}  // namespace

TEST_CASE("custom op: the documented example passes gradcheck, alone and inside a composite") {
  manual_seed(5);
  const Tensor x = randn({3, 4}, kFloat64).requires_grad_();
  const Tensor w = randn({3, 4}, kFloat64).requires_grad_();
  auto alone = autograd::gradcheck([](auto& in) { return cube_times(in[0], in[1]); }, {x, w});
  CHECK_MESSAGE(alone.ok, alone.message);
  auto composite = autograd::gradcheck(
      [](auto& in) { return log_softmax(cube_times(tanh(in[0]), in[1]).sum({1}), 0); }, {x, w});
  CHECK_MESSAGE(composite.ok, composite.message);
}

TEST_CASE("custom op: its policy applies under autocast, and the tape shows the casts") {
  amp::register_policy("cube_times", amp::CastPolicy::Float32);
  const Tensor x = ones({2}, kFloat16).requires_grad_();
  const Tensor w = ones({2}).requires_grad_();
  Tensor y;
  {
    amp::AutocastGuard fp16(kFloat16);
    y = cube_times(x, w);
  }
  CHECK(y.dtype() == kFloat32);  // fp32 policy: the fp16 input was cast up
  y.sum().backward();
  CHECK(x.grad().dtype() == kFloat16);  // through the taped cast, back to the input's dtype
  CHECK(hg::test::values(x.grad()) == std::vector<double>{3, 3});
}

TEST_CASE("custom op: backward twice without retain_graph is refused, as for built-in ops") {
  const Tensor x = ones({2}).requires_grad_(), w = ones({2});
  const Tensor y = cube_times(x, w).sum();
  y.backward();
  hg::test::expect_error([&] { y.backward(); }, {"CubeTimesBackward"});
}

TEST_CASE("custom op: an output computed with grad mode on (a history of its own) is refused") {
  const Tensor x = ones({2}).requires_grad_(), w = ones({2});
  const Tensor y = x * x * x * w;  // step 3 without its NoGradGuard: y has MulBackward
  hg::test::expect_error(
      [&] {
        autograd::record_op<CubeTimesBackward>({x, w}, y, x, w);
      },
      {"CubeTimesBackward: output 0 [2] float32 already has a grad_fn "
       "(MulBackward)",
       "NoGradGuard"});
}
