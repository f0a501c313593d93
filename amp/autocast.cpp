#include "halfgrad/amp/autocast.h"

#include <iomanip>
#include <map>
#include <sstream>
#include <unordered_map>

#include "halfgrad/amp/json_text.h"
#include "halfgrad/autograd/grad_mode.h"
#include "halfgrad/autograd/node.h"
#include "halfgrad/core/error.h"

namespace hg::amp {

namespace {

struct AutocastState {
  bool enabled = false;
  DType dtype = kFloat16;
  int depth = 0;  // enabled guards alive; the weight-cast cache lives while it is > 0
  // a weight's cast copy, and the weight's data when it was cast: its storage (Storage::id, as
  // Module::to swaps a weight's storage) and version
  struct CachedCast {
    Tensor cast;
    uint64_t storage_id, version;
  };
  std::unordered_map<const TensorImpl*, CachedCast> weight_cache;
  AutocastStats stats;
};
thread_local AutocastState state;
thread_local PlanRecorder* recorder = nullptr;

struct PolicyRow {
  OpId op;
  const char* name;
  CastPolicy policy;
};

// The policy table, readable in one screen.
constexpr PolicyRow kPolicies[] = {
    {OpId::Matmul, "matmul", CastPolicy::LowerPrecision},
    {OpId::Linear, "linear", CastPolicy::LowerPrecision},
    {OpId::Conv2d, "conv2d", CastPolicy::LowerPrecision},
    {OpId::ConvTranspose2d, "conv_transpose2d", CastPolicy::LowerPrecision},
    {OpId::Bmm, "bmm", CastPolicy::LowerPrecision},
    {OpId::Recurrent, "lstm/gru", CastPolicy::LowerPrecision},
    {OpId::Attention, "scaled_dot_product_attention", CastPolicy::LowerPrecision},
    {OpId::Softmax, "softmax", CastPolicy::Float32},
    {OpId::LogSoftmax, "log_softmax", CastPolicy::Float32},
    {OpId::CrossEntropy, "cross_entropy", CastPolicy::Float32},
    {OpId::NllLoss, "nll_loss", CastPolicy::Float32},
    {OpId::MseLoss, "mse_loss", CastPolicy::Float32},
    {OpId::L1Loss, "l1_loss", CastPolicy::Float32},
    {OpId::SmoothL1Loss, "smooth_l1_loss", CastPolicy::Float32},
    {OpId::HuberLoss, "huber_loss", CastPolicy::Float32},
    {OpId::BinaryCrossEntropyWithLogits, "binary_cross_entropy_with_logits", CastPolicy::Float32},
    {OpId::KlDiv, "kl_div", CastPolicy::Float32},
    {OpId::Exp, "exp", CastPolicy::Float32},
    {OpId::Log, "log", CastPolicy::Float32},
    {OpId::Log1p, "log1p", CastPolicy::Float32},
    {OpId::Expm1, "expm1", CastPolicy::Float32},
    {OpId::Softplus, "softplus", CastPolicy::Float32},
    {OpId::Pow, "pow", CastPolicy::Float32},
    {OpId::Reciprocal, "reciprocal", CastPolicy::Float32},
    {OpId::Rsqrt, "rsqrt", CastPolicy::Float32},
    {OpId::ReverseDivide, "scalar / tensor", CastPolicy::Float32},
    {OpId::Sum, "sum", CastPolicy::Float32},
    {OpId::Prod, "prod", CastPolicy::Float32},
    {OpId::Mean, "mean", CastPolicy::Passthrough},  // as PyTorch: accumulates in float anyway
    {OpId::Var, "var", CastPolicy::Float32},
    {OpId::Cumsum, "cumsum", CastPolicy::Float32},
    {OpId::Norm, "norm/cosine_similarity", CastPolicy::Float32},
    {OpId::BatchNorm, "batch_norm", CastPolicy::Passthrough},  // fp32 statistics, input's dtype
    {OpId::LayerNorm, "layer_norm", CastPolicy::Float32},
    {OpId::GroupNorm, "group_norm", CastPolicy::Float32},
    {OpId::Binary, "binary elementwise", CastPolicy::Promote},
    {OpId::Where, "where", CastPolicy::Promote},
    {OpId::Cat, "cat/stack", CastPolicy::Promote},
    {OpId::Unary, "unary elementwise", CastPolicy::Passthrough},
    {OpId::Pooling, "pooling", CastPolicy::Passthrough},
    {OpId::Dropout, "dropout", CastPolicy::Passthrough},
    {OpId::View, "shape ops", CastPolicy::Passthrough},
    {OpId::Embedding, "embedding", CastPolicy::Passthrough},
    {OpId::BinaryCrossEntropy, "binary_cross_entropy", CastPolicy::Banned},
};
static_assert(std::size(kPolicies) == static_cast<size_t>(OpId::kCount), "one row per OpId");

const PolicyRow& row(OpId op) {
  const PolicyRow& r = kPolicies[static_cast<size_t>(op)];
  HG_CHECK(r.op == op, "autocast: policy table out of order at ", static_cast<int>(op));
  return r;
}

std::map<std::string, CastPolicy>& custom_policies() {
  static std::map<std::string, CastPolicy> table;  // written at start-up by custom op authors
  return table;
}

// Whether a cached cast still stands for the weight: the same data, not written since, and, for
// a taped use, its CastBackward not yet consumed by a backward without retain_graph (PyTorch's
// cached cast node survives that; a released one here would refuse the region's next backward
// through it). A no-grad use only needs the values.
bool is_current(const AutocastState::CachedCast& cached, const Tensor& weight, DType target) {
  if (cached.cast.dtype() != target || cached.storage_id != weight.storage()->id() ||
      cached.version != weight.version())
    return false;
  const auto node = cached.cast.grad_fn();
  return !is_grad_enabled() || !node || !node->released;
}

// Leaves that require grad (the weights) are cast once per region and reused, so the tape
// holds one CastBackward per weight however often it is used.
bool cacheable(const Tensor& t) { return t.is_leaf() && t.requires_grad(); }

Tensor cast(const Tensor& t, DType target, PlanEntry* entry) {
  if (!t.defined() || !t.is_floating_point() || t.dtype() == target) return t;
  const bool cacheable = amp::cacheable(t);
  if (cacheable) {
    auto found = state.weight_cache.find(t.impl());
    if (found != state.weight_cache.end() && is_current(found->second, t, target)) {
      ++state.stats.cache_hits;
      if (entry) ++entry->cache_hits;
      return found->second.cast;
    }
  }
  Tensor out = t.to(target);
  ++state.stats.casts;
  if (entry) ++entry->casts;
  // A cast made without grad mode has no CastBackward: cached, it would cut the weight off
  // from every later backward in the region (a validation forward under NoGradGuard, then a
  // training one). So only taped casts are kept; a no-grad forward may still reuse them.
  if (cacheable && is_grad_enabled())
    state.weight_cache[t.impl()] = {out, t.storage()->id(), t.version()};
  return out;
}

DType widest(std::initializer_list<Tensor> inputs) {
  DType result = kBool;
  bool any = false;
  for (const Tensor& t : inputs) {
    if (!t.defined() || !t.is_floating_point()) continue;
    result = any ? promote_types(result, t.dtype()) : t.dtype();
    any = true;
  }
  return result;
}

std::vector<DType> dtypes_of(const std::vector<Tensor>& tensors) {
  std::vector<DType> out;
  for (const Tensor& t : tensors)
    if (t.defined()) out.push_back(t.dtype());
  return out;
}

std::vector<Tensor> apply(CastPolicy policy, std::string_view name,
                          std::initializer_list<Tensor> inputs) {
  std::vector<Tensor> out(inputs);
  if (!state.enabled) return out;
  PlanEntry entry{std::string(name), policy, dtypes_of(out), {}, 0, 0};
  PlanEntry* log = recorder ? &entry : nullptr;
  switch (policy) {
    case CastPolicy::LowerPrecision:  // float64 is not eligible, as in PyTorch: left as it is
      for (Tensor& t : out)
        if (t.defined() && t.dtype() != kFloat64) t = cast(t, state.dtype, log);
      break;
    case CastPolicy::Float32:
      for (Tensor& t : out)
        if (t.defined() && t.dtype() != kFloat64) t = cast(t, kFloat32, log);
      break;
    case CastPolicy::Promote: {
      const DType target = widest(inputs);
      for (Tensor& t : out) t = cast(t, target, log);
      break;
    }
    case CastPolicy::Passthrough:
      break;
    case CastPolicy::Banned:
      HG_FAIL("autocast: ", name, " of ", out.empty() ? std::string("?") : describe(out[0]),
              " is unsafe in ", dtype_name(state.dtype),
              " (probabilities near 0 and 1 round away); use binary_cross_entropy_with_logits, "
              "which fuses the sigmoid, or leave the autocast region for this op");
  }
  if (recorder) {
    entry.after = dtypes_of(out);
    recorder->add(std::move(entry));
  }
  return out;
}

}  // namespace

std::string_view op_name(OpId op) { return row(op).name; }
CastPolicy policy(OpId op) { return row(op).policy; }

std::string_view policy_name(CastPolicy policy) {
  switch (policy) {
    case CastPolicy::LowerPrecision:
      return "lower_precision";
    case CastPolicy::Float32:
      return "float32";
    case CastPolicy::Promote:
      return "promote";
    case CastPolicy::Passthrough:
      return "passthrough";
    case CastPolicy::Banned:
      return "banned";
  }
  return "?";
}

bool is_autocast_enabled() { return state.enabled; }
DType autocast_dtype() { return state.dtype; }

AutocastGuard::AutocastGuard(DType dtype, bool enabled)
    : previous_enabled_(state.enabled), previous_dtype_(state.dtype) {
  HG_CHECK(!enabled || dtype == kFloat16 || dtype == kBFloat16,
           "AutocastGuard: the lower "
           "precision must be float16 or bfloat16, got ",
           dtype_name(dtype));
  state.enabled = enabled;
  if (enabled) {
    state.dtype = dtype;
    if (state.depth++ == 0) state.stats = {};
  }
}

AutocastGuard::~AutocastGuard() {
  if (state.enabled && --state.depth == 0) state.weight_cache.clear();
  state.enabled = previous_enabled_;
  state.dtype = previous_dtype_;
}

std::vector<Tensor> autocast(OpId op, std::initializer_list<Tensor> inputs) {
  return apply(policy(op), op_name(op), inputs);
}

Tensor autocast(OpId op, const Tensor& input) { return autocast(op, {input})[0]; }

DType autocast_widened_dtype(OpId op, const Tensor& input) {
  HG_CHECK(policy(op) == CastPolicy::Float32, "autocast_widened_dtype: ", op_name(op), " has the ",
           policy_name(policy(op)), " policy, not float32");
  const DType before = input.dtype();
  if (!state.enabled) return before;
  const bool widens = before == kFloat16 || before == kBFloat16;
  const DType after = widens ? kFloat32 : before;
  if (widens) ++state.stats.casts;
  if (recorder)
    recorder->add({std::string(op_name(op)), CastPolicy::Float32, {before}, {after}, widens, 0});
  return after;
}

void register_policy(const std::string& custom_op, CastPolicy policy) {
  custom_policies()[custom_op] = policy;
}

std::vector<Tensor> autocast_custom(const std::string& custom_op,
                                    std::initializer_list<Tensor> inputs) {
  if (!state.enabled) return std::vector<Tensor>(inputs);
  auto found = custom_policies().find(custom_op);
  HG_CHECK(found != custom_policies().end(), "autocast: op \"", custom_op,
           "\" has no cast policy "
           "under autocast(",
           dtype_name(state.dtype),
           "); declare one with "
           "amp::register_policy(\"",
           custom_op, "\", CastPolicy::...)");
  return apply(found->second, custom_op, inputs);
}

AutocastStats autocast_stats() { return state.stats; }

namespace detail {

bool needs_cached_cast(const Tensor& weight, DType dtype) {
  if (!state.enabled || !is_grad_enabled() || !weight.defined() || !weight.is_floating_point() ||
      weight.dtype() == kFloat64 || weight.dtype() == dtype || !cacheable(weight))
    return false;
  const auto found = state.weight_cache.find(weight.impl());
  return found == state.weight_cache.end() || !is_current(found->second, weight, dtype);
}

void keep_cached_cast(const Tensor& weight, const Tensor& cast) {
  state.weight_cache[weight.impl()] = {cast, weight.storage()->id(), weight.version()};
  ++state.stats.casts;
}

}  // namespace detail

PlanRecorder::PlanRecorder() : previous_(recorder) { recorder = this; }
PlanRecorder::~PlanRecorder() { recorder = previous_; }

namespace {
std::string dtype_list(const std::vector<DType>& dtypes) {
  std::string out;
  for (size_t i = 0; i < dtypes.size(); ++i)
    out += (i ? "," : "") + std::string(dtype_name(dtypes[i]));
  return out;
}
}  // namespace

std::string PlanRecorder::to_text() const {
  std::ostringstream out;
  out << std::left << std::setw(20) << "op" << std::setw(16) << "policy" << std::setw(30)
      << "inputs" << std::setw(30) << "after autocast"
      << "casts  cache hits\n";
  for (const PlanEntry& e : entries_) {
    out << std::setw(20) << e.op << std::setw(16) << policy_name(e.policy) << std::setw(30)
        << dtype_list(e.before) << std::setw(30) << dtype_list(e.after) << std::setw(7) << e.casts
        << e.cache_hits << '\n';
  }
  return out.str();
}

std::string PlanRecorder::to_json() const {
  std::ostringstream out;
  for (const PlanEntry& e : entries_) {
    out << "{\"op\":" << detail::json_string(e.op) << ",\"policy\":\"" << policy_name(e.policy)
        << "\",\"inputs\":\"" << dtype_list(e.before) << "\",\"after\":\"" << dtype_list(e.after)
        << "\",\"casts\":" << e.casts << ",\"cache_hits\":" << e.cache_hits << "}\n";
  }
  return out.str();
}

}  // namespace hg::amp
