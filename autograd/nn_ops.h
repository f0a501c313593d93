#pragma once
// The differentiable neural-network ops (functional form; nn/ wraps them in modules).
// Image tensors are NCHW.
#include <array>
#include <cstdint>
#include <optional>
#include <vector>

#include "halfgrad/core/tensor.h"

namespace hg {

using Pair = std::array<int64_t, 2>;  // (h, w)

// x [N, C, H, W], weight [O, C / groups, KH, KW], bias [O] or undefined -> [N, O, HO, WO]
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor(),
              Pair stride = {1, 1}, Pair padding = {0, 0}, Pair dilation = {1, 1},
              int64_t groups = 1);

// x [N, C, L], weight [O, C / groups, K], bias [O] or undefined -> [N, O, LO]: conv2d on
// [N, C, 1, L] (autograd/nn_composite_ops.cpp), so the same kernels, autocast and gradients.
Tensor conv1d(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor(),
              int64_t stride = 1, int64_t padding = 0, int64_t dilation = 1, int64_t groups = 1);

// conv2d's adjoint (a "deconvolution"; autograd/conv_ops.cpp): x [N, C, H, W], weight
// [C, O / groups, KH, KW], bias [O] or undefined -> [N, O, HO, WO] with
// HO = (H - 1) * stride - 2 * padding + dilation * (KH - 1) + output_padding + 1 (WO alike).
// PyTorch's argument order; output_padding < stride or dilation picks among the sizes that
// conv2d with the same settings maps to H.
Tensor conv_transpose2d(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor(),
                        Pair stride = {1, 1}, Pair padding = {0, 0}, Pair output_padding = {0, 0},
                        int64_t groups = 1, Pair dilation = {1, 1});

// x [N, C, H, W] -> [N, C, HO, WO]; stride defaults to the kernel size (when {0, 0}).
Tensor max_pool2d(const Tensor& x, Pair kernel, Pair stride = {0, 0}, Pair padding = {0, 0});
Tensor avg_pool2d(const Tensor& x, Pair kernel, Pair stride = {0, 0}, Pair padding = {0, 0},
                  bool count_include_pad = true);
Tensor adaptive_avg_pool2d(const Tensor& x, Pair output_size);
Tensor adaptive_max_pool2d(const Tensor& x, Pair output_size);
// x [N, C, L] -> [N, C, LO]: the 2-D pools over a height of one (autograd/nn_composite_ops.cpp).
Tensor max_pool1d(const Tensor& x, int64_t kernel, int64_t stride = 0, int64_t padding = 0);
Tensor avg_pool1d(const Tensor& x, int64_t kernel, int64_t stride = 0, int64_t padding = 0,
                  bool count_include_pad = true);
Tensor adaptive_avg_pool1d(const Tensor& x, int64_t output_size);
Tensor adaptive_max_pool1d(const Tensor& x, int64_t output_size);

// x [N, C, *]. training: normalise with batch statistics and update running_mean/var in place
// (momentum as PyTorch: running = (1 - m) running + m batch, unbiased batch variance); eval:
// normalise with the running statistics. weight/bias [C] may be undefined.
Tensor batch_norm(const Tensor& x, const Tensor& running_mean, const Tensor& running_var,
                  const Tensor& weight, const Tensor& bias, bool training, double momentum = 0.1,
                  double eps = 1e-5);
// relu(batch_norm(...)) in one kernel each way, bit for bit the two ops: what nn::Sequential
// runs for a BatchNorm1d/2d followed by a ReLU. Saves relu's output, not batch_norm's.
Tensor batch_norm_relu(const Tensor& x, const Tensor& running_mean, const Tensor& running_var,
                       const Tensor& weight, const Tensor& bias, bool training,
                       double momentum = 0.1, double eps = 1e-5);
namespace detail {
// batch_norm (relu: batch_norm_relu) for nn::BatchNorm, which also counts its training batches:
// num_batches_tracked (int64 []) + 1 in the kernel that updates the running statistics.
Tensor batch_norm_counted(const Tensor& x, const Tensor& running_mean, const Tensor& running_var,
                          const Tensor& weight, const Tensor& bias, bool training, double momentum,
                          double eps, bool relu, const Tensor& num_batches_tracked);
}  // namespace detail
// Normalises over the trailing dims given by normalized_shape.
Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight = Tensor(),
                  const Tensor& bias = Tensor(), double eps = 1e-5);

// x [N, C, *] normalised over each group of C / num_groups channels (and all of *), then scaled
// and shifted per channel by weight, bias [C] (optional), as torch.nn.functional.group_norm.
// fp32 under autocast; a 16-bit x without autocast is computed in float and rounded once.
Tensor group_norm(const Tensor& x, int64_t num_groups, const Tensor& weight = Tensor(),
                  const Tensor& bias = Tensor(), double eps = 1e-5);

// ---- padding and resampling (autograd/resample_ops.cpp): index_select and cat underneath, so
// every backend and dtype those take, and their gradients (a replicated element sums the
// gradients of its copies) ----
enum class PadMode { Constant, Reflect, Replicate, Circular };
// pads: (before, after) pairs from the last dim backwards, as torch.nn.functional.pad:
// {1, 1} pads the last dim by one on each side, {1, 1, 2, 0} also the one before by two in
// front. Constant: `value` (in x's dtype; a negative pad crops); Reflect: mirrored without the
// edge (pad < size); Replicate: the edge repeated; Circular: wrapped around (pad <= size).
Tensor pad(const Tensor& x, const std::vector<int64_t>& pads, PadMode mode = PadMode::Constant,
           double value = 0.0);
const char* pad_mode_name(PadMode mode);  // "constant", "reflect", "replicate", "circular"

enum class InterpolateMode { Nearest, Bilinear };
// What interpolate resizes to, as torch.nn.functional.interpolate's arguments: an output size or
// a scale factor (not both), the mode, and for bilinear whether corners align.
struct InterpolateOptions {
  InterpolateOptions& size(Pair s) {
    size_ = s;
    return *this;
  }
  InterpolateOptions& scale_factor(double s) { return scale_factor(std::array<double, 2>{s, s}); }
  InterpolateOptions& scale_factor(std::array<double, 2> s) {
    scale_factor_ = s;
    return *this;
  }
  InterpolateOptions& mode(InterpolateMode m) {
    mode_ = m;
    return *this;
  }
  InterpolateOptions& align_corners(bool a) {
    align_corners_ = a;
    return *this;
  }
  std::optional<Pair> size_;
  std::optional<std::array<double, 2>> scale_factor_;
  InterpolateMode mode_ = InterpolateMode::Nearest;
  bool align_corners_ = false;
};
// x [N, C, H, W] -> [N, C, HO, WO] with PyTorch's source coordinates (a scale factor gives
// HO = floor(H * scale) and maps back by 1 / scale, as torch does without
// recompute_scale_factor). Nearest copies; bilinear blends in float (double for fp64) and rounds
// a 16-bit result once.
Tensor interpolate(const Tensor& x, const InterpolateOptions& options);

// Zeroes each element with probability p and scales the rest by 1 / (1 - p), when training.
// The mask comes from the default generator (manual_seed makes it reproducible).
Tensor dropout(const Tensor& x, double p = 0.5, bool training = true);
// Zeroes whole channels: x [N, C, H, W] (or [C, H, W]) times a mask [N, C, 1, 1] of 0 and
// 1 / (1 - p) drawn by dropout, as torch's dropout2d (autograd/nn_composite_ops.cpp).
Tensor dropout2d(const Tensor& x, double p = 0.5, bool training = true);

// weight [V, D], index int64 [*] -> [*, D]
Tensor embedding(const Tensor& index, const Tensor& weight);
// The same, with row padding_idx (negative: counted from the end) left out of the gradient, as
// torch's padding_idx: its positions read the row as it is (autograd/sampling_ops.cpp).
Tensor embedding(const Tensor& index, const Tensor& weight, int64_t padding_idx);

// Attention (autograd/attention_ops.cpp), as torch's F.scaled_dot_product_attention (2.x):
// query [*, L, E], key [*, S, E], value [*, S, Ev] -> [*, L, Ev], batch dims broadcasting:
//   softmax(query * scale @ key^T + mask, -1) @ value,  scale = 1 / sqrt(E) unless given.
// attn_mask broadcasts to [*, L, S]: bool keeps the positions where it is true (the others get
// -inf; a row with none left is NaN, as in torch), floating is added. is_causal: query i sees
// keys 0..i (not together with attn_mask). dropout_p > 0 drops attention weights (always: pass
// 0 when evaluating). Under autocast the products run in the lower precision, the softmax in
// fp32.
Tensor scaled_dot_product_attention(const Tensor& query, const Tensor& key, const Tensor& value,
                                    const Tensor& attn_mask = Tensor(), double dropout_p = 0.0,
                                    bool is_causal = false,
                                    std::optional<double> scale = std::nullopt);
// The same, also returning the attention weights [*, L, S] (after dropout, as torch's
// MultiheadAttention returns them): to look at what attends to what.
struct AttentionOutput {
  Tensor output, weights;
};
AttentionOutput scaled_dot_product_attention_with_weights(
    const Tensor& query, const Tensor& key, const Tensor& value, const Tensor& attn_mask = Tensor(),
    double dropout_p = 0.0, bool is_causal = false, std::optional<double> scale = std::nullopt);

enum class Reduction { None, Mean, Sum };

// logits [N, C], targets int64 [N], values in [0, C) or ignore_index.
// mean reduction divides by the number of targets that are not ignore_index.
Tensor cross_entropy(const Tensor& logits, const Tensor& target,
                     Reduction reduction = Reduction::Mean, int64_t ignore_index = -100,
                     double label_smoothing = 0.0);
Tensor nll_loss(const Tensor& log_probs, const Tensor& target,
                Reduction reduction = Reduction::Mean, int64_t ignore_index = -100);
// Regression losses (autograd/regression_loss_ops.cpp), input and target of one shape, fp32
// under autocast. mse: (x - t)^2. l1: |x - t|. smooth_l1: 0.5 (x - t)^2 / beta where
// |x - t| < beta, else |x - t| - beta / 2 (beta 0: l1). huber: delta * smooth_l1 with beta =
// delta, i.e. 0.5 (x - t)^2 inside, delta (|x - t| - delta / 2) outside.
Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::Mean);
Tensor l1_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::Mean);
Tensor smooth_l1_loss(const Tensor& input, const Tensor& target,
                      Reduction reduction = Reduction::Mean, double beta = 1.0);
Tensor huber_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::Mean,
                  double delta = 1.0);

// The Kullback-Leibler divergence of input (log-probabilities) from target (probabilities, or
// log-probabilities with log_target): t (log t - x) elementwise (0 where t = 0), or
// exp(t) (t - x). Mean averages over every element, as torch's "mean"; torch's "batchmean" (the
// true KL per sample) is kl_div(x, t, Reduction::Sum) / x.size(0). fp32 under autocast.
Tensor kl_div(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::Mean,
              bool log_target = false);

// probs and targets of one shape, probs in [0, 1]; each log is clamped at -100 and the gradient
// is (p - t) / max((1 - p) p, 1e-12), PyTorch's rules: finite everywhere in [0, 1].
// Refused inside a 16-bit autocast region: use the logits form there.
Tensor binary_cross_entropy(const Tensor& probs, const Tensor& target,
                            Reduction reduction = Reduction::Mean);
// logits and targets of one shape; the stable form (fp32 under autocast).
Tensor binary_cross_entropy_with_logits(const Tensor& logits, const Tensor& target,
                                        Reduction reduction = Reduction::Mean);

}  // namespace hg
