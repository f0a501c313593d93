#pragma once
// Autocast: inside an AutocastGuard, each op casts its floating inputs per a policy table
// before it runs (step 1 of every op, DESIGN.md). The casts are taped ops, so an fp32 weight
// used by an fp16 matmul still gets an fp32 gradient, and what the op saves for backward is
// the 16-bit copy.
//
//   LowerPrecision  matmul, linear, conv2d, conv_transpose2d, bmm, LSTM/GRU, fused attention:
//                   inputs to the autocast dtype (not fp64 ones)
//   Float32         softmax, log_softmax, cross_entropy, nll_loss, mse_loss, kl_div, exp, log,
//                   log1p, expm1, softplus, pow, reciprocal, rsqrt, scalar / tensor, sum, prod,
//                   var, cumsum, norm, cosine_similarity, layer_norm, group_norm: inputs to fp32
//   Promote         binary elementwise with mixed dtypes, where, cat, stack: type promotion
//   Passthrough     relu, gelu, mean, batch_norm, pooling, dropout, shape ops: run in the
//                   input's dtype (batch_norm with fp32 statistics)
//   Banned          ops unsafe in 16 bits: an error that names the safe op
//
// Depends only on core/ (it is consulted by the ops in autograd/). State is per thread.
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "halfgrad/core/tensor.h"

namespace hg::amp {

enum class CastPolicy { LowerPrecision, Float32, Promote, Passthrough, Banned };

enum class OpId {
  // LowerPrecision
  Matmul,
  Linear,
  Conv2d,
  ConvTranspose2d,
  Bmm,
  Recurrent,  // LSTM and GRU: input and initial states, once before the sequence
  Attention,  // the fused scaled_dot_product_attention: query, key and value
  // Float32
  Softmax,
  LogSoftmax,
  CrossEntropy,
  NllLoss,
  MseLoss,
  L1Loss,
  SmoothL1Loss,
  HuberLoss,
  BinaryCrossEntropyWithLogits,
  KlDiv,
  Exp,
  Log,
  Log1p,
  Expm1,
  Softplus,
  Pow,
  Reciprocal,
  Rsqrt,
  ReverseDivide,  // scalar / tensor (__rtruediv__)
  Sum,
  Prod,
  Mean,
  Var,
  Cumsum,
  Norm,  // norm and cosine_similarity
  BatchNorm,
  LayerNorm,
  GroupNorm,
  // Promote
  Binary,
  Where,
  Cat,
  // Passthrough
  Unary,
  Pooling,
  Dropout,
  View,
  Embedding,
  // Banned
  BinaryCrossEntropy,
  kCount
};

std::string_view op_name(OpId op);
CastPolicy policy(OpId op);
std::string_view policy_name(CastPolicy policy);

bool is_autocast_enabled();
DType autocast_dtype();  // the lower-precision dtype of the innermost enabled guard

// RAII, nestable: AutocastGuard ac(hg::kFloat16); AutocastGuard off(kFloat16, false) disables.
class AutocastGuard {
 public:
  [[nodiscard("a guard acts while it lives: name it")]] explicit AutocastGuard(
      DType dtype = kFloat16, bool enabled = true);
  ~AutocastGuard();
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

 private:
  bool previous_enabled_;
  DType previous_dtype_;
};

// The inputs of `op` cast per its policy (unchanged when autocast is off or for undefined and
// non-floating tensors). Banned ops throw hg::Error naming the safe alternative.
std::vector<Tensor> autocast(OpId op, std::initializer_list<Tensor> inputs);
Tensor autocast(OpId op, const Tensor& input);
// For a float32-policy op whose kernels widen 16-bit inputs themselves (cross_entropy: float32
// losses from 16-bit logits, the same bits as from the cast logits): the dtype autocast would
// cast `input` to, counted in the stats and in a PlanRecorder's entry as the cast it stands
// for, which is not made (two launches fewer a step, one each way). The input's own dtype where
// autocast would leave it as it is.
DType autocast_widened_dtype(OpId op, const Tensor& input);

// Makes at once the casts this region's ops would make one by one: each of `weights` that is a
// floating leaf requiring grad (not float64, not already in the region's dtype, not already
// cached) is cast to the region's dtype in one kernel launch, taped as one node whose backward
// casts their gradients back in one launch too, and kept in the region's weight-cast cache,
// where the ops find it. For an O1 training step's forward (examples' amp_train_step calls it
// with the model's parameters): a model's weight casts cost one launch each way instead of one
// per weight. The values and gradients are those of the one-by-one casts, bit for bit; a weight
// that no op of the region then uses gets no gradient from it. Does nothing outside an enabled
// autocast region or without grad mode (the cache keeps only taped casts).
void cache_weight_casts(const std::vector<Tensor>& weights);

namespace detail {
// For cache_weight_casts (amp/weight_casts.cpp): whether `weight` needs a cast to `dtype` in
// this region (it is cast-eligible and has no current cached cast), and keeping one.
bool needs_cached_cast(const Tensor& weight, DType dtype);
void keep_cached_cast(const Tensor& weight, const Tensor& cast);
}  // namespace detail

// Custom ops declare their policy once; calling autocast_custom for an op that never did is an
// error under autocast (not a silent guess).
void register_policy(const std::string& custom_op, CastPolicy policy);
std::vector<Tensor> autocast_custom(const std::string& custom_op,
                                    std::initializer_list<Tensor> inputs);

// The autocast plan of a forward pass: while a PlanRecorder lives (per thread), every autocast
// decision is logged: op, policy, input dtypes before and after, casts inserted, cache hits.
struct PlanEntry {
  std::string op;
  CastPolicy policy;
  std::vector<DType> before, after;
  int casts = 0, cache_hits = 0;
};
class PlanRecorder {
 public:
  PlanRecorder();
  ~PlanRecorder();
  PlanRecorder(const PlanRecorder&) = delete;
  PlanRecorder& operator=(const PlanRecorder&) = delete;
  const std::vector<PlanEntry>& entries() const { return entries_; }
  void add(PlanEntry entry) { entries_.push_back(std::move(entry)); }
  std::string to_text() const;  // one aligned line per op, for people
  std::string to_json() const;  // one JSON object per line, for programs

 private:
  std::vector<PlanEntry> entries_;
  PlanRecorder* previous_;
};

// Statistics of the current region, for the plan dump and tests.
struct AutocastStats {
  int64_t casts = 0;       // casts performed
  int64_t cache_hits = 0;  // weight casts served from the per-region cache
};
AutocastStats autocast_stats();

}  // namespace hg::amp
