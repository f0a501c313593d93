#include "autograd/gradcheck.h"

#include <cmath>
#include <sstream>

#include "autograd/grad_mode.h"
#include "core/error.h"
#include "core/factories.h"

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

}  // namespace

GradcheckResult gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& fn,
                          const std::vector<Tensor>& inputs, double eps, double atol, double rtol) {
  GradcheckResult result;
  for (size_t which = 0; which < inputs.size(); ++which) {
    const Tensor& input = inputs[which];
    if (!input.defined() || !input.requires_grad()) continue;
    HG_CHECK(input.dtype() == kFloat64 && input.is_contiguous(), "gradcheck: input ", which,
             " must be a contiguous float64 tensor, got ", describe(input));
    const int64_t out_numel = [&] {
      NoGradGuard no_grad;
      return fn(inputs).numel();
    }();
    const auto analytic = analytic_jacobian(fn, inputs, which, out_numel);
    double* data = input.data<double>();
    for (int64_t i = 0; i < input.numel(); ++i) {
      const double original = data[i];
      std::vector<double> plus, minus;
      {
        NoGradGuard no_grad;
        data[i] = original + eps;
        plus = fn(inputs).to_vector<double>();
        data[i] = original - eps;
        minus = fn(inputs).to_vector<double>();
        data[i] = original;
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
