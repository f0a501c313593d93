#include "halfgrad/optim/clip_grad.h"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

#include "halfgrad/amp/scale_state.h"
#include "halfgrad/autograd/grad_mode.h"
#include "halfgrad/autograd/ops.h"
#include "halfgrad/core/error.h"
#include "halfgrad/core/half.h"
#include "halfgrad/core/warning.h"

namespace hg::optim {

namespace {

// Chunks of a fixed size, summed in order: the result does not depend on the thread count.
constexpr int64_t kChunk = 1 << 16;

template <typename T>
double part_loop(const T* x, int64_t n, double p) {
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  std::vector<double> partial(static_cast<size_t>(chunks), 0.0);
  const bool inf = std::isinf(p);
#pragma omp parallel for schedule(static) if (chunks > 1)
  for (int64_t c = 0; c < chunks; ++c) {
    double acc = 0.0;
    const int64_t end = std::min(n, (c + 1) * kChunk);
    for (int64_t i = c * kChunk; i < end; ++i) {
      double v;
      if constexpr (std::is_same_v<T, double>) {
        v = std::abs(x[i]);
      } else {
        v = std::abs(static_cast<double>(static_cast<float>(x[i])));
      }
      if (inf) {
        acc = (std::isnan(v) || std::isnan(acc)) ? v + acc : std::max(acc, v);
      } else {
        acc += p == 2.0 ? v * v : (p == 1.0 ? v : std::pow(v, p));
      }
    }
    partial[static_cast<size_t>(c)] = acc;
  }
  double total = 0.0;
  for (double v : partial) {
    total =
        inf ? ((std::isnan(v) || std::isnan(total)) ? v + total : std::max(total, v)) : total + v;
  }
  return total;
}

double part_tensors(const Tensor& grad, double p) {
  const Tensor a = abs(grad.to(kFloat64));
  if (std::isinf(p)) {
    // max() skips nothing: a NaN element must make the norm NaN.
    const double nan_count = sum(ne(a, a).to(kFloat64)).item<double>();
    return nan_count > 0.0 ? std::nan("") : max(a).item<double>();
  }
  return sum(p == 2.0 ? a * a : (p == 1.0 ? a : pow(a, p))).item<double>();
}

}  // namespace

double detail::grad_norm_part(const Tensor& grad, double p, bool cpu_loops) {
  if (grad.numel() == 0) return 0.0;
  if (!cpu_loops || !grad.device().is_cpu()) return part_tensors(grad, p);
  const Tensor g = grad.contiguous();
  switch (g.dtype()) {
    case DType::Float32:
      return part_loop(g.data<float>(), g.numel(), p);
    case DType::Float64:
      return part_loop(g.data<double>(), g.numel(), p);
    case DType::Float16:
      return part_loop(g.data<Half>(), g.numel(), p);
    case DType::BFloat16:
      return part_loop(g.data<BFloat16>(), g.numel(), p);
    default:
      HG_FAIL("clip_grad_norm_: gradient ", describe(grad), " is not floating-point");
  }
}

double clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, double norm_type,
                       bool error_if_nonfinite) {
  HG_CHECK(std::isfinite(max_norm) && max_norm >= 0.0,
           "clip_grad_norm_: invalid max_norm: ", max_norm, " (must be finite and >= 0)");
  HG_CHECK(norm_type > 0.0, "clip_grad_norm_: invalid norm_type: ", norm_type,
           " (must be > 0, or kInfNorm)");
  if (const double scale = amp::pending_gradient_scale(); scale > 0.0) {
    std::ostringstream message;
    message << "clip_grad_norm_: the gradients are still multiplied by the GradScaler's scale (";
    if (std::isinf(scale)) {
      message << "kept on the device";
    } else {
      message << scale;
    }
    message << "), so max_norm is compared with the scaled norm; call "
            << "scaler.unscale_(optimizer) before clipping";
    warn_once("clip_grad_norm_.scaled", message.str());
  }
  NoGradGuard no_grad;
  const bool inf = std::isinf(norm_type);
  double total = 0.0;
  std::ostringstream bad;  // the parameters whose gradients are non-finite
  for (size_t i = 0; i < params.size(); ++i) {
    const Tensor g = params[i].grad();
    if (!g.defined()) continue;
    const double part = detail::grad_norm_part(g, norm_type, true);
    if (!std::isfinite(part)) {
      bad << (bad.tellp() > 0 ? ", " : "") << "parameter " << i << " (" << describe(g) << ")";
    }
    total = inf ? ((std::isnan(part) || std::isnan(total)) ? part + total : std::max(total, part))
                : total + part;
  }
  if (!inf) {
    total = norm_type == 2.0   ? std::sqrt(total)
            : norm_type == 1.0 ? total
                               : std::pow(total, 1.0 / norm_type);
  }
  if (!std::isfinite(total)) {
    HG_CHECK(!error_if_nonfinite, "clip_grad_norm_: the total norm of order ", norm_type,
             " of the gradients is ", total, ", so it cannot be clipped; non-finite gradients: ",
             bad.str().empty() ? std::string("(none; the sum overflowed)") : bad.str(),
             " (pass error_if_nonfinite = false to get the norm back instead)");
    return total;
  }
  const double clip_coef = max_norm / (total + 1e-6);
  if (clip_coef < 1.0) {
    for (const auto& p : params) {
      Tensor g = p.grad();
      if (g.defined()) g.mul_(clip_coef);
    }
  }
  return total;
}

void clip_grad_value_(const std::vector<Tensor>& params, double clip_value) {
  HG_CHECK(std::isfinite(clip_value) && clip_value >= 0.0,
           "clip_grad_value_: invalid clip_value: ", clip_value, " (must be finite and >= 0)");
  NoGradGuard no_grad;
  for (const auto& p : params) {
    Tensor g = p.grad();
    if (g.defined()) g.copy_(clamp(g, -clip_value, clip_value));
  }
}

}  // namespace hg::optim
