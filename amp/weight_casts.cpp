// amp::cache_weight_casts (amp/autocast.h): a region's weight casts made together, one kernel
// launch each way (kernels::cast_tensors), instead of one Tensor::to per weight when each op
// first uses its weight. The forward values are Tensor::to's; the backward casts each gradient
// back to its weight's dtype as CastBackward does, so training is bit for bit the same.
#include <algorithm>
#include <unordered_set>
#include <vector>

#include "halfgrad/amp/autocast.h"
#include "halfgrad/autograd/node.h"
#include "halfgrad/core/error.h"
#include "halfgrad/core/factories.h"
#include "halfgrad/kernels/amp_kernels.h"
#include "halfgrad/kernels/tensor_bridge.h"

namespace hg::amp {

namespace {

// outs[i] = ins[i] in dtypes[i], in one launch (all on `device`, ins contiguous).
std::vector<Tensor> cast_together(const std::vector<Tensor>& ins, const std::vector<DType>& dtypes,
                                  Device device) {
  std::vector<Tensor> outs;
  std::vector<kernels::TensorView> in_views, out_views;
  for (size_t i = 0; i < ins.size(); ++i) {
    outs.push_back(make_tensor(ins[i].sizes(), dtypes[i], device));
    in_views.push_back(kernels::view_of(ins[i]));
    out_views.push_back(kernels::view_of(outs.back()));
  }
  if (!ins.empty())
    kernels::cast_tensors(device)(in_views.data(), out_views.data(),
                                  static_cast<int64_t>(ins.size()));
  return outs;
}

// The backward of a cache_weight_casts call: each defined gradient back to its weight's dtype,
// all in one launch; a cast copy no op used has no gradient, and passes none on.
class CastWeightsBackward final : public autograd::Node {
 public:
  explicit CastWeightsBackward(Device device) : device_(device) {}
  std::string name() const override { return "CastWeightsBackward"; }
  bool takes_undefined_grads() const override { return true; }
  std::vector<Tensor> apply(const std::vector<Tensor>& grads) override {
    std::vector<Tensor> defined;
    std::vector<DType> dtypes;
    std::vector<size_t> at;
    for (size_t i = 0; i < grads.size(); ++i) {
      if (!grads[i].defined()) continue;
      defined.push_back(grads[i].contiguous());
      dtypes.push_back(inputs[i].dtype);
      at.push_back(i);
    }
    const std::vector<Tensor> cast = cast_together(defined, dtypes, device_);
    std::vector<Tensor> out(grads.size());
    for (size_t k = 0; k < at.size(); ++k) out[at[k]] = cast[k];
    return out;
  }

 private:
  Device device_;
};

// The weights of one device that need a cast: one launch, one node.
void cast_group(const std::vector<Tensor>& weights, DType dtype) {
  const Device device = weights.front().device();
  std::vector<Tensor> sources;
  for (const Tensor& w : weights) sources.push_back(w.detach().contiguous());
  const std::vector<Tensor> casts =
      cast_together(sources, std::vector<DType>(weights.size(), dtype), device);
  autograd::record(std::make_shared<CastWeightsBackward>(device), weights, casts);
  for (size_t i = 0; i < weights.size(); ++i) detail::keep_cached_cast(weights[i], casts[i]);
}

}  // namespace

void cache_weight_casts(const std::vector<Tensor>& weights) {
  if (!is_autocast_enabled()) return;
  const DType dtype = autocast_dtype();
  std::vector<std::vector<Tensor>> by_device;
  std::unordered_set<const TensorImpl*> seen;  // a weight listed twice (tied) is cast once
  for (const Tensor& w : weights) {
    if (!detail::needs_cached_cast(w, dtype) || !seen.insert(w.impl()).second) continue;
    auto group = std::find_if(by_device.begin(), by_device.end(),
                              [&](const auto& g) { return g.front().device() == w.device(); });
    if (group == by_device.end())
      by_device.push_back({w});
    else
      group->push_back(w);
  }
  for (const auto& group : by_device) cast_group(group, dtype);
}

}  // namespace hg::amp
