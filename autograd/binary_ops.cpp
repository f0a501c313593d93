// Binary elementwise ops with NumPy broadcasting and PyTorch's dtype promotion. Mixed dtypes
// are cast first with taped casts, so each gradient arrives back in its input's dtype.
#include <cmath>

#include "halfgrad/amp/autocast.h"
#include "halfgrad/autograd/grad_mode.h"
#include "halfgrad/autograd/op_helpers.h"
#include "halfgrad/autograd/ops.h"
#include "halfgrad/core/factories.h"

namespace hg {

namespace {

using kernels::BinaryOp;

const char* binary_name(BinaryOp op) {
  static const char* names[] = {"add", "sub", "mul", "div", "pow", "maximum", "minimum",
                                "eq",  "ne",  "lt",  "le",  "gt",  "ge"};
  return names[static_cast<int>(op)];
}

class BinaryBackward final : public autograd::Node {
 public:
  // Saves only what the gradients that flow need (as PyTorch): add/sub nothing; mul b for a's
  // gradient and a for b's; div b, and a for b's gradient; the rest both. An operand that is not
  // saved may then change in place before backward.
  BinaryBackward(BinaryOp op, const Tensor& a, const Tensor& b) : op_(op) {
    if (op == BinaryOp::Add || op == BinaryOp::Sub) return;
    const bool mul = op == BinaryOp::Mul, div = op == BinaryOp::Div;
    if (!(mul || div) || b.requires_grad()) a_ = autograd::SavedTensor(a);
    if (!mul || a.requires_grad()) b_ = autograd::SavedTensor(b);
  }
  std::string name() const override {
    static const char* names[] = {"AddBackward", "SubBackward",     "MulBackward",    "DivBackward",
                                  "PowBackward", "MaximumBackward", "MinimumBackward"};
    return names[static_cast<int>(op_)];
  }
  bool release_saved() override { return release_all(a_, b_); }
  std::vector<Tensor> apply(const std::vector<Tensor>& grads) override {
    const Tensor g = autograd::grad_as(grads[0], outputs[0].dtype);
    const Shape& sa = inputs[0].shape;
    const Shape& sb = inputs[1].shape;
    switch (op_) {
      case BinaryOp::Add:
        return {sum_to(g, sa), sum_to(g, sb)};
      case BinaryOp::Sub:
        return {sum_to(g, sa), sum_to(-g, sb)};
      default:
        break;
    }
    const Tensor& a = a_.unpack(*this);
    const Tensor& b = b_.unpack(*this);
    switch (op_) {
      case BinaryOp::Mul:
        return {b.defined() ? sum_to(g * b, sa) : Tensor(),
                a.defined() ? sum_to(g * a, sb) : Tensor()};
      case BinaryOp::Div: {
        const Tensor ga = g / b;
        return {sum_to(ga, sa), a.defined() ? sum_to(-ga * a / b, sb) : Tensor()};
      }
      case BinaryOp::Pow: {
        // d/da a^b = b a^(b-1), 0 where b == 0 (as pow(x, 0.0) and torch; 0 * 0^-1 is NaN);
        // d/db a^b = a^b log a, 0 where a == 0
        const Tensor ga =
            where(eq(b, wrap_scalar(0.0, b)), wrap_scalar(0.0, g), g * b * hg::pow(a, b - 1.0));
        const Tensor safe_log = where(eq(a, wrap_scalar(0.0, a)), zeros_like(a), log(a));
        const Tensor gb = g * hg::pow(a, b) * safe_log;
        return {sum_to(ga, sa), sum_to(gb, sb)};
      }
      default: {  // maximum/minimum: the larger (smaller) side gets it; ties split evenly;
        // beside a NaN neither side loses, so both get it (PyTorch's rule)
        const bool is_max = op_ == BinaryOp::Maximum;
        const Tensor a_loses = is_max ? lt(a, b) : gt(a, b);
        const Tensor b_loses = is_max ? gt(a, b) : lt(a, b);
        const Tensor shared = where(eq(a, b), g * 0.5, g);
        const Tensor zero = zeros_like(shared);
        return {sum_to(where(a_loses, zero, shared), sa), sum_to(where(b_loses, zero, shared), sb)};
      }
    }
  }

 private:
  BinaryOp op_;
  autograd::SavedTensor a_, b_;
};

// broadcast_shapes, naming both operands (shape and dtype) when they do not broadcast.
Shape broadcast_operands(const Tensor& a, const Tensor& b, const char* op) {
  try {
    return broadcast_shapes(a.sizes(), b.sizes(), op);
  } catch (const Error& e) {
    HG_FAIL(e.what(), ": got ", describe(a), " and ", describe(b));
  }
}

Tensor binary_op(BinaryOp op, const Tensor& a_in, const Tensor& b_in) {
  const char* name = binary_name(op);
  autograd::check_defined(a_in, name);
  autograd::check_defined(b_in, name);
  autograd::check_same_device(a_in, b_in, name);
  DType common = result_type(a_in, b_in);
  // true division is float32 for integers; integer pow stays integer (bool pow: float32)
  if ((op == BinaryOp::Div && !is_floating(common)) || (op == BinaryOp::Pow && common == kBool))
    common = kFloat32;
  const Shape shape = broadcast_operands(a_in, b_in, name);
  const Tensor a = a_in.to(common), b = b_in.to(common);
  Tensor out = make_tensor(shape, kernels::is_comparison(op) ? kBool : common, a.device());
  kernels::binary(a.device())(op, kernels::view_of(a, shape), kernels::view_of(b, shape),
                              kernels::view_of(out));
  if (!kernels::is_comparison(op) && autograd::needs_grad({&a, &b})) {
    HG_CHECK(is_floating(common), name, ": gradients need floating tensors, got ", describe(a),
             " and ", describe(b));
    autograd::record_op<BinaryBackward>({a, b}, out, op, a, b);
  }
  return out;
}

class WhereBackward final : public autograd::Node {
 public:
  explicit WhereBackward(const Tensor& cond) : cond_(cond) {}
  std::string name() const override { return "WhereBackward"; }
  bool release_saved() override { return cond_.reset(); }
  std::vector<Tensor> apply(const std::vector<Tensor>& grads) override {
    const Tensor& cond = cond_.unpack(*this);
    const Tensor g = autograd::grad_as(grads[0], outputs[0].dtype);
    const Tensor zero = zeros_like(g);
    return {Tensor(), sum_to(where(cond, g, zero), inputs[1].shape),
            sum_to(where(cond, zero, g), inputs[2].shape)};
  }

 private:
  autograd::SavedTensor cond_;
};

}  // namespace

Tensor add(const Tensor& a, const Tensor& b) { return binary_op(BinaryOp::Add, a, b); }
Tensor sub(const Tensor& a, const Tensor& b) { return binary_op(BinaryOp::Sub, a, b); }
Tensor mul(const Tensor& a, const Tensor& b) { return binary_op(BinaryOp::Mul, a, b); }
Tensor div(const Tensor& a, const Tensor& b) { return binary_op(BinaryOp::Div, a, b); }
Tensor pow(const Tensor& a, const Tensor& b) {
  const auto in = amp::autocast(amp::OpId::Pow, {a, b});  // float32 under autocast, as PyTorch
  return binary_op(BinaryOp::Pow, in[0], in[1]);
}
Tensor maximum(const Tensor& a, const Tensor& b) { return binary_op(BinaryOp::Maximum, a, b); }
Tensor minimum(const Tensor& a, const Tensor& b) { return binary_op(BinaryOp::Minimum, a, b); }
Tensor eq(const Tensor& a, const Tensor& b) { return binary_op(BinaryOp::Eq, a, b); }
Tensor ne(const Tensor& a, const Tensor& b) { return binary_op(BinaryOp::Ne, a, b); }
Tensor lt(const Tensor& a, const Tensor& b) { return binary_op(BinaryOp::Lt, a, b); }
Tensor le(const Tensor& a, const Tensor& b) { return binary_op(BinaryOp::Le, a, b); }
Tensor gt(const Tensor& a, const Tensor& b) { return binary_op(BinaryOp::Gt, a, b); }
Tensor ge(const Tensor& a, const Tensor& b) { return binary_op(BinaryOp::Ge, a, b); }

Tensor where(const Tensor& cond, const Tensor& a_in, const Tensor& b_in) {
  autograd::check_defined(cond, "where");
  autograd::check_defined(a_in, "where");
  autograd::check_defined(b_in, "where");
  HG_CHECK(cond.dtype() == kBool, "where: condition must be bool, got ", describe(cond));
  autograd::check_same_device(cond, a_in, "where");
  autograd::check_same_device(a_in, b_in, "where");
  const DType common = result_type(a_in, b_in);
  const Shape shape = [&] {
    try {
      return broadcast_shapes(broadcast_shapes(cond.sizes(), a_in.sizes(), "where"), b_in.sizes(),
                              "where");
    } catch (const Error& e) {
      HG_FAIL(e.what(), ": got condition ", describe(cond), ", a ", describe(a_in), ", b ",
              describe(b_in));
    }
  }();
  const Tensor a = a_in.to(common), b = b_in.to(common);
  Tensor out = make_tensor(shape, common, a.device());
  kernels::where(a.device())(kernels::view_of(cond, shape), kernels::view_of(a, shape),
                             kernels::view_of(b, shape), kernels::view_of(out));
  if (autograd::needs_grad({&a, &b})) {
    autograd::record_op<WhereBackward>({cond, a, b}, out, cond);
  }
  return out;
}

namespace {
int category(DType dtype) { return dtype == kBool ? 0 : is_floating(dtype) ? 2 : 1; }
}  // namespace

DType result_type(const Tensor& a, const Tensor& b) {
  const bool a_scalar = a.dim() == 0, b_scalar = b.dim() == 0;
  if (a_scalar == b_scalar) return promote_types(a.dtype(), b.dtype());
  const DType dimensioned = a_scalar ? b.dtype() : a.dtype();
  const DType zero_dim = a_scalar ? a.dtype() : b.dtype();
  return category(zero_dim) > category(dimensioned) ? promote_types(dimensioned, zero_dim)
                                                    : dimensioned;
}

Tensor wrap_scalar(double value, const Tensor& like) {
  const TensorOptions on = TensorOptions().device(like.device());
  const DType dtype = like.dtype();
  // an operand, not a fill: 70000 on fp16 is inf here, as PyTorch's
  if (is_floating(dtype)) return autograd::operand_scalar(value, dtype, like.device());
  const bool whole = std::trunc(value) == value && holds_integer(value, kInt64);
  if (!whole) return autograd::operand_scalar(value, kFloat32, like.device());
  const Tensor exact = scalar_tensor(value, on.dtype(kInt64));  // int64 -> uint8 wraps
  return dtype == kBool || dtype == kInt64 ? exact : exact.to(dtype);
}

Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
// Scalars on floating tensors go through affine() or div_scalar(): one pass, the scalar never
// rounded to a 16-bit dtype. A product's shift is -0.0, the exact additive identity (+0.0 would
// turn a -0 product into +0).
Tensor operator+(const Tensor& a, double b) {
  return a.is_floating_point() ? affine(a, 1.0, b) : add(a, wrap_scalar(b, a));
}
Tensor operator-(const Tensor& a, double b) {
  return a.is_floating_point() ? affine(a, 1.0, -b) : sub(a, wrap_scalar(b, a));
}
Tensor operator*(const Tensor& a, double b) {
  return a.is_floating_point() ? affine(a, b, -0.0) : mul(a, wrap_scalar(b, a));
}
Tensor operator/(const Tensor& a, double b) {
  // an integer tensor's true division takes the scalar as float32, as PyTorch (not wrapped)
  return a.is_floating_point() ? div_scalar(a, b)
                               : div(a, autograd::operand_scalar(b, kFloat32, a.device()));
}
Tensor operator+(double a, const Tensor& b) { return b + a; }
Tensor operator-(double a, const Tensor& b) {
  return b.is_floating_point() ? affine(b, -1.0, a) : sub(wrap_scalar(a, b), b);
}
Tensor operator*(double a, const Tensor& b) { return b * a; }
Tensor operator/(double a, const Tensor& b) {
  return scalar_div(a, amp::autocast(amp::OpId::ReverseDivide, b));  // __rtruediv__: float32
}

Tensor operator==(const Tensor& a, const Tensor& b) { return eq(a, b); }
Tensor operator!=(const Tensor& a, const Tensor& b) { return ne(a, b); }
Tensor operator<(const Tensor& a, const Tensor& b) { return lt(a, b); }
Tensor operator<=(const Tensor& a, const Tensor& b) { return le(a, b); }
Tensor operator>(const Tensor& a, const Tensor& b) { return gt(a, b); }
Tensor operator>=(const Tensor& a, const Tensor& b) { return ge(a, b); }
Tensor operator==(const Tensor& a, double b) { return eq(a, wrap_scalar(b, a)); }
Tensor operator!=(const Tensor& a, double b) { return ne(a, wrap_scalar(b, a)); }
Tensor operator<(const Tensor& a, double b) { return lt(a, wrap_scalar(b, a)); }
Tensor operator<=(const Tensor& a, double b) { return le(a, wrap_scalar(b, a)); }
Tensor operator>(const Tensor& a, double b) { return gt(a, wrap_scalar(b, a)); }
Tensor operator>=(const Tensor& a, double b) { return ge(a, wrap_scalar(b, a)); }

}  // namespace hg
