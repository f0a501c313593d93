#include "halfgrad/autograd/gradcheck.h"

#include <cmath>
#include <sstream>

#include "halfgrad/autograd/grad_mode.h"
#include "halfgrad/core/error.h"
#include "halfgrad/core/factories.h"

namespace hg::autograd {

namespace {

// Jacobian rows by backward passes: d out[j] / d input[i] for every j.
std::vector<std::vector<double>> analytic_jacobian(
    const std::function<Tensor(const std::vector<Tensor>&)>& fn, const std::vector<Tensor>& inputs,
    size_t which, int64_t out_numel) {
  std::vector<std::vector<double>> rows;
  const Tensor out = fn(inputs);
  for (int64_t j = 0; j < out_numel; ++j) {
    for (const Tensor& in : inputs) in.set_grad(Tensor());
    std::vector<double> onehot(static_cast<size_t>(out_numel), 0.0);
    onehot[j] = 1.0;
    if (!out.requires_grad()) {
      rows.emplace_back(static_cast<size_t>(inputs[which].numel()), 0.0);
      continue;
    }
    out.backward(from_vector(onehot, out.sizes(), out.dtype()), /*retain_graph=*/true);
    const Tensor g = inputs[which].grad();
    rows.push_back(g.defined()
                       ? g.to_vector<double>()
                       : std::vector<double>(static_cast<size_t>(inputs[which].numel()), 0.0));
  }
  return rows;
}

// Where the i-th element (row-major over the sizes) lives, in elements from data_ptr(): inputs
// may be views (transposed, sliced), so a perturbation goes through the strides.
int64_t element_offset(const Tensor& t, int64_t i) {
  int64_t offset = 0;
  for (int64_t d = t.dim() - 1; d >= 0; --d) {
    const int64_t size = t.sizes()[d];
    offset += (i % size) * t.strides()[d];
    i /= size;
  }
  return offset;
}

// One storage element seen at two positions (an expand) cannot be perturbed alone.
bool has_internal_overlap(const Tensor& t) {
  for (int64_t d = 0; d < t.dim(); ++d)
    if (t.sizes()[d] > 1 && t.strides()[d] == 0) return true;
  return false;
}

}  // namespace

GradcheckResult gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& fn,
                          const std::vector<Tensor>& inputs, double eps, double atol, double rtol) {
  GradcheckResult result;
  bool any_checked = false;
  for (const Tensor& input : inputs) any_checked |= input.defined() && input.requires_grad();
  HG_CHECK(any_checked, "gradcheck: none of the ", inputs.size(),
           " inputs requires grad, so nothing would be checked: call requires_grad_() on the "
           "inputs whose gradients to check");
  for (size_t which = 0; which < inputs.size(); ++which) {
    const Tensor& input = inputs[which];
    if (!input.defined() || !input.requires_grad()) continue;
    HG_CHECK(input.dtype() == kFloat64 && input.device() == kCPU, "gradcheck: input ", which,
             " must be a float64 CPU tensor, got ", describe(input));
    HG_CHECK(!has_internal_overlap(input), "gradcheck: input ", which, " ", describe(input),
             " has elements that share memory (stride 0): pass .contiguous()");
    const int64_t out_numel = [&] {
      NoGradGuard no_grad;
      return fn(inputs).numel();
    }();
    const auto analytic = analytic_jacobian(fn, inputs, which, out_numel);
    double* data = input.data<double>();
    for (int64_t i = 0; i < input.numel(); ++i) {
      double& element = data[element_offset(input, i)];
      const double original = element;
      std::vector<double> plus, minus;
      {
        NoGradGuard no_grad;
        element = original + eps;
        plus = fn(inputs).to_vector<double>();
        element = original - eps;
        minus = fn(inputs).to_vector<double>();
        element = original;
      }
      for (int64_t j = 0; j < out_numel; ++j) {
        const double numeric = (plus[j] - minus[j]) / (2 * eps);
        const double error = std::abs(analytic[j][i] - numeric);
        result.max_abs_error = std::max(result.max_abs_error, error);
        if (result.ok && !(error <= atol + rtol * std::abs(numeric))) {
          std::ostringstream msg;
          msg << "gradcheck: input " << which << " " << describe(input) << ", element " << i
              << ", output element " << j << ": analytic " << analytic[j][i] << " vs numeric "
              << numeric;
          result.ok = false;
          result.message = msg.str();
        }
      }
    }
  }
  for (const Tensor& in : inputs)
    if (in.defined()) in.set_grad(Tensor());
  return result;
}

}  // namespace hg::autograd
