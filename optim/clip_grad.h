#pragma once
// Gradient clipping (torch.nn.utils.clip_grad_norm_ / clip_grad_value_). Parameters whose
// gradient is undefined are ignored.
#include <limits>
#include <vector>

#include "halfgrad/core/tensor.h"

namespace hg::optim {

inline constexpr double kInfNorm = std::numeric_limits<double>::infinity();

// Computes the norm of order norm_type (> 0, or kInfNorm for the max-abs norm) of all the
// gradients together, as if concatenated, accumulating in double whatever their dtype, and
// returns it. When it is finite and clip_coef = max_norm / (norm + 1e-6) is below 1, every
// gradient is scaled by clip_coef in place (in its own dtype, computed in float/double).
//
// A non-finite total norm (an inf or NaN gradient): with error_if_nonfinite, throws hg::Error
// naming the norm and the parameters whose gradients are non-finite; otherwise the gradients
// are left untouched and the non-finite norm is returned, so a caller (or GradScaler) can skip
// the step. (PyTorch instead multiplies the gradients by the NaN/0 coefficient.)
//
// Called while a GradScaler's scale is still on the gradients (after scaler.scale(loss) and
// before scaler.unscale_(opt)), it warns once: the norm is then that of the scaled gradients.
double clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, double norm_type = 2.0,
                       bool error_if_nonfinite = false);

// Clamps every gradient element into [-clip_value, clip_value] in place (NaN stays NaN).
void clip_grad_value_(const std::vector<Tensor>& params, double clip_value);

namespace detail {
// The norm of one gradient as its parts: the sum of |x|^p, or max |x| for kInfNorm; NaN when
// any element is NaN. cpu_loops = false uses tensor ops (the path for non-CPU tensors).
double grad_norm_part(const Tensor& grad, double norm_type, bool cpu_loops);
}  // namespace detail

}  // namespace hg::optim
