// Unary elementwise ops and their backward: one kernel each way (kernels::unary,
// kernels::unary_backward), the node saving the input or the output as the derivative needs.
#include <cmath>

#include "halfgrad/amp/autocast.h"
#include "halfgrad/autograd/op_helpers.h"
#include "halfgrad/autograd/ops.h"
#include "halfgrad/core/factories.h"

namespace hg {

namespace {

using kernels::UnaryOp;
using kernels::UnaryParams;

const char* unary_name(UnaryOp op) {
  switch (op) {
    case UnaryOp::Neg:
      return "neg";
    case UnaryOp::Exp:
      return "exp";
    case UnaryOp::Log:
      return "log";
    case UnaryOp::Sqrt:
      return "sqrt";
    case UnaryOp::Rsqrt:
      return "rsqrt";
    case UnaryOp::Abs:
      return "abs";
    case UnaryOp::Sign:
      return "sign";
    case UnaryOp::Relu:
      return "relu";
    case UnaryOp::Gelu:
      return "gelu";
    case UnaryOp::Sigmoid:
      return "sigmoid";
    case UnaryOp::Tanh:
      return "tanh";
    case UnaryOp::Square:
      return "square";
    case UnaryOp::Reciprocal:
      return "reciprocal";
    case UnaryOp::Pow:
      return "pow";
    case UnaryOp::Clamp:
      return "clamp";
    case UnaryOp::DivScalar:
      return "div";
    case UnaryOp::ScalarDiv:
      return "rdiv";
    case UnaryOp::Sin:
      return "sin";
    case UnaryOp::Cos:
      return "cos";
    case UnaryOp::Log1p:
      return "log1p";
    case UnaryOp::Expm1:
      return "expm1";
    case UnaryOp::Floor:
      return "floor";
    case UnaryOp::Ceil:
      return "ceil";
    case UnaryOp::Round:
      return "round";
    case UnaryOp::Trunc:
      return "trunc";
    case UnaryOp::Erf:
      return "erf";
    case UnaryOp::GeluTanh:
      return "gelu";
    case UnaryOp::Affine:
      return "affine";
  }
  return "unary";
}

std::string node_name(UnaryOp op) {
  std::string name = unary_name(op);
  name[0] = static_cast<char>(std::toupper(name[0]));
  return name + "Backward";
}

bool has_constant_slope(UnaryOp op) {
  return op == UnaryOp::Affine || op == UnaryOp::DivScalar || op == UnaryOp::Neg;
}

bool is_rounding(UnaryOp op) {
  return op == UnaryOp::Floor || op == UnaryOp::Ceil || op == UnaryOp::Round ||
         op == UnaryOp::Trunc;
}

// sign, the roundings and pow(x, 0): the gradient is zeros, not g * 0 (an inf or NaN g would
// make NaN), and nothing is saved (as PyTorch)
bool has_zero_slope(UnaryOp op, const UnaryParams& params) {
  return op == UnaryOp::Sign || is_rounding(op) || (op == UnaryOp::Pow && params.a == 0.0);
}

class UnaryBackward final : public autograd::Node {
 public:
  UnaryBackward(UnaryOp op, UnaryParams params) : op_(op), params_(params) {}
  std::vector<Tensor> apply(const std::vector<Tensor>& grads) override {
    if (has_zero_slope(op_, params_))
      return {zeros(inputs[0].shape, TensorOptions(inputs[0].dtype).device(inputs[0].device))};
    if (has_constant_slope(op_)) {  // nothing saved: g * a, g / a (as PyTorch's), -g
      const Tensor g = autograd::grad_as(grads[0], outputs[0].dtype);
      Tensor grad_in = make_tensor(g.sizes(), g.dtype(), g.device());
      const bool divide = op_ == UnaryOp::DivScalar;
      const UnaryParams slope{op_ == UnaryOp::Neg ? -1.0 : params_.a, -0.0};  // -0.0 keeps -0
      kernels::unary(g.device())(divide ? UnaryOp::DivScalar : UnaryOp::Affine, kernels::view_of(g),
                                 kernels::view_of(grad_in), slope);
      return {grad_in};
    }
    const Tensor& v = saved_.unpack(*this);
    const Tensor g = autograd::grad_as(grads[0], v.dtype());
    Tensor grad_in = make_tensor(v.sizes(), v.dtype(), v.device());
    kernels::unary_backward(v.device())(op_, kernels::view_of(v), kernels::view_of(g),
                                        kernels::view_of(grad_in), params_);
    return {grad_in};
  }
  std::string name() const override { return node_name(op_); }
  bool release_saved() override { return saved_.reset(); }
  void save(const Tensor& t) { saved_ = autograd::SavedTensor(t); }

 private:
  UnaryOp op_;
  UnaryParams params_;
  autograd::SavedTensor saved_;
};

bool keeps_integers(UnaryOp op) {
  return op == UnaryOp::Neg || op == UnaryOp::Abs || op == UnaryOp::Sign || op == UnaryOp::Relu ||
         op == UnaryOp::Square || op == UnaryOp::Clamp || is_rounding(op);
}

// int64 and uint8 tensors get the unary ops whose results are integers again, as in PyTorch
// (label arithmetic, index offsets; uint8 wraps). They carry no gradient, so they are composed
// from the binary kernels, which compute integers exactly on every backend.
Tensor integer_unary(UnaryOp op, const Tensor& x, const UnaryParams& params) {
  const Tensor zero = wrap_scalar(0, x);
  switch (op) {
    case UnaryOp::Neg:
      return mul(x, wrap_scalar(-1, x));
    case UnaryOp::Abs:
      return where(lt(x, zero), mul(x, wrap_scalar(-1, x)), x);
    case UnaryOp::Sign:
      return sub(gt(x, zero).to(kInt64), lt(x, zero).to(kInt64)).to(x.dtype());
    case UnaryOp::Relu:
      return maximum(x, zero);
    case UnaryOp::Square:
      return mul(x, x);
    case UnaryOp::Floor:  // an integer is its own floor, ceil, round and trunc (a copy, as torch)
    case UnaryOp::Ceil:
    case UnaryOp::Round:
    case UnaryOp::Trunc:
      return x.clone();
    default: {  // Clamp, with whole-number bounds (an infinite one is no bound) x's dtype holds
      for (double bound : {params.a, params.b})
        if (!std::isinf(bound)) check_integer_fill(bound, x.dtype(), "clamp");
      Tensor out = x;
      if (!std::isinf(params.a)) out = maximum(out, wrap_scalar(params.a, x));
      if (!std::isinf(params.b)) out = minimum(out, wrap_scalar(params.b, x));
      return out.is_same(x) ? x.clone() : out;
    }
  }
}

// The ops PyTorch computes in float32 for integer and bool inputs (its "unary float" ops; gelu
// and the rest refuse them).
bool promotes_to_float(UnaryOp op) {
  return op == UnaryOp::Exp || op == UnaryOp::Log || op == UnaryOp::Sqrt || op == UnaryOp::Rsqrt ||
         op == UnaryOp::Sigmoid || op == UnaryOp::Tanh || op == UnaryOp::Reciprocal ||
         op == UnaryOp::Pow || op == UnaryOp::Sin || op == UnaryOp::Cos || op == UnaryOp::Log1p ||
         op == UnaryOp::Expm1 || op == UnaryOp::Erf;
}

bool whole_bounds(UnaryOp op, const UnaryParams& p) {
  const auto whole = [](double v) { return std::isinf(v) || v == std::trunc(v); };
  return op != UnaryOp::Clamp || (whole(p.a) && whole(p.b));
}

// x^e for an integer tensor and a whole e >= 0: the exact integer pow of the binary kernel
// (kernels/integer_pow.h), the exponent a 0-dim int64 so x keeps its dtype; a negative scalar
// exponent is an error, as PyTorch's
Tensor integer_pow(const Tensor& x, double exponent) {
  HG_CHECK(exponent >= 0, "pow: integers to negative integer powers are not allowed, got ",
           describe(x), " ^ ", exponent);
  return pow(x, scalar_tensor(exponent, TensorOptions(kInt64).device(x.device())));
}

Tensor unary_op(UnaryOp op, const Tensor& x, UnaryParams params = {}) {
  autograd::check_defined(x, unary_name(op));
  if (!x.is_floating_point()) {
    const bool integer = x.dtype() == kInt64 || x.dtype() == kUInt8;
    if (integer && op == UnaryOp::Pow && params.a == std::trunc(params.a) &&
        holds_integer(params.a, kInt64))
      return integer_pow(x, params.a);  // pow(int64, 2.0) stays int64, as torch's
    if (integer && keeps_integers(op) && whole_bounds(op, params))
      return integer_unary(op, x, params);
    const bool fractional_clamp = integer && op == UnaryOp::Clamp;
    HG_CHECK(promotes_to_float(op) || fractional_clamp, unary_name(op),
             ": expected a floating-point tensor",
             keeps_integers(op) ? " or an int64/uint8 one" : "", ", got ", describe(x));
    // exp, log, sqrt, ... of integers (and a clamp to fractional bounds) compute in float32,
    // as PyTorch's
    return unary_op(op, x.to(kFloat32), params);
  }
  Tensor out = make_tensor(x.sizes(), x.dtype(), x.device());
  kernels::unary(x.device())(op, kernels::view_of(x), kernels::view_of(out), params);
  if (autograd::needs_grad({&x})) {
    auto node = autograd::record_op<UnaryBackward>({x}, out, op, params);
    if (!has_constant_slope(op) && !has_zero_slope(op, params))
      node->save(kernels::backward_uses_output(op) ? out : x);
  }
  return out;
}

}  // namespace

Tensor neg(const Tensor& x) { return unary_op(UnaryOp::Neg, x); }
Tensor exp(const Tensor& x) { return unary_op(UnaryOp::Exp, amp::autocast(amp::OpId::Exp, x)); }
Tensor log(const Tensor& x) { return unary_op(UnaryOp::Log, amp::autocast(amp::OpId::Log, x)); }
// fp32 under autocast, as PyTorch's list has them.
Tensor log1p(const Tensor& x) {
  return unary_op(UnaryOp::Log1p, amp::autocast(amp::OpId::Log1p, x));
}
Tensor expm1(const Tensor& x) {
  return unary_op(UnaryOp::Expm1, amp::autocast(amp::OpId::Expm1, x));
}
Tensor sqrt(const Tensor& x) { return unary_op(UnaryOp::Sqrt, x); }
Tensor floor(const Tensor& x) { return unary_op(UnaryOp::Floor, x); }
Tensor ceil(const Tensor& x) { return unary_op(UnaryOp::Ceil, x); }
Tensor round(const Tensor& x) { return unary_op(UnaryOp::Round, x); }
Tensor trunc(const Tensor& x) { return unary_op(UnaryOp::Trunc, x); }
Tensor round(const Tensor& x, int64_t decimals) {
  HG_CHECK(x.defined() && x.is_floating_point(), "round: decimals needs a floating tensor, got ",
           x.defined() ? describe(x) : "undefined");
  HG_CHECK(decimals >= -308 && decimals <= 308, "round: decimals ", decimals,
           " is outside [-308, 308], got x ", describe(x));
  if (decimals == 0) return round(x);
  const bool low_precision = x.dtype() == kFloat16 || x.dtype() == kBFloat16;
  const Tensor wide = low_precision ? x.to(kFloat32) : x;
  // torch's order and rounding: the power of ten in x's dtype, one product, one quotient. A
  // product with a tensor, not affine(x, p, 0): -0.0 * p + 0 would lose the sign of zero.
  const Tensor ten_pow =
      scalar_tensor(std::pow(10.0, static_cast<double>(std::abs(decimals))), wide.options());
  const Tensor rounded =
      decimals > 0 ? round(wide * ten_pow) / ten_pow : round(wide / ten_pow) * ten_pow;
  return low_precision ? rounded.to(x.dtype()) : rounded;
}
Tensor erf(const Tensor& x) { return unary_op(UnaryOp::Erf, x); }
Tensor rsqrt(const Tensor& x) {
  return unary_op(UnaryOp::Rsqrt, amp::autocast(amp::OpId::Rsqrt, x));
}
Tensor abs(const Tensor& x) { return unary_op(UnaryOp::Abs, x); }
Tensor sign(const Tensor& x) { return unary_op(UnaryOp::Sign, x); }
// fp32 under autocast, as pow: PyTorch's square is pow(x, 2), on its CUDA autocast fp32 list.
Tensor square(const Tensor& x) {
  return unary_op(UnaryOp::Square, amp::autocast(amp::OpId::Pow, x));
}
Tensor reciprocal(const Tensor& x) {
  return unary_op(UnaryOp::Reciprocal, amp::autocast(amp::OpId::Reciprocal, x));
}
Tensor relu(const Tensor& x) { return unary_op(UnaryOp::Relu, x); }
Tensor gelu(const Tensor& x) { return unary_op(UnaryOp::Gelu, x); }
Tensor gelu(const Tensor& x, GeluApproximate approximate) {
  return unary_op(approximate == GeluApproximate::Tanh ? UnaryOp::GeluTanh : UnaryOp::Gelu, x);
}
Tensor sigmoid(const Tensor& x) { return unary_op(UnaryOp::Sigmoid, x); }
Tensor tanh(const Tensor& x) { return unary_op(UnaryOp::Tanh, x); }
// In the input's dtype under autocast, as PyTorch's (on neither of its lists).
Tensor sin(const Tensor& x) { return unary_op(UnaryOp::Sin, x); }
Tensor cos(const Tensor& x) { return unary_op(UnaryOp::Cos, x); }
Tensor pow(const Tensor& x, double exponent) {
  return unary_op(UnaryOp::Pow, amp::autocast(amp::OpId::Pow, x), {exponent, 0});
}
Tensor clamp(const Tensor& x, double min, double max) {
  HG_CHECK(!(min > max), "clamp: min ", min, " is greater than max ", max, " for ", describe(x));
  return unary_op(UnaryOp::Clamp, x, {min, max});
}
Tensor clamp_min(const Tensor& x, double min) { return clamp(x, min, INFINITY); }
Tensor clamp_max(const Tensor& x, double max) { return clamp(x, -INFINITY, max); }
Tensor operator-(const Tensor& a) { return neg(a); }

Tensor affine(const Tensor& x, double scale, double shift) {
  return unary_op(UnaryOp::Affine, x, {scale, shift});
}

Tensor scalar_div(double dividend, const Tensor& x) {
  if (!x.is_floating_point())  // float32, as PyTorch
    return div(autograd::operand_scalar(dividend, kFloat32, x.device()), x);
  return unary_op(UnaryOp::ScalarDiv, x, {dividend, 0.0});
}

Tensor div_scalar(const Tensor& x, double divisor) {
  if (!x.is_floating_point()) return x / divisor;  // a true division of integers: float32
  return unary_op(UnaryOp::DivScalar, x, {divisor, 0.0});
}

}  // namespace hg
