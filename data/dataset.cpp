#include "halfgrad/data/dataset.h"

#include <cstring>

#include "halfgrad/core/error.h"
#include "halfgrad/core/factories.h"

namespace hg::data {

Dataset::Dataset(Tensor samples, Tensor labels, std::vector<Transform> transforms)
    : transforms_(std::move(transforms)) {
  HG_CHECK(samples.defined() && labels.defined(), "Dataset: samples and labels must be defined");
  HG_CHECK(samples.dim() >= 1 && labels.dim() == 1 && samples.size(0) == labels.size(0),
           "Dataset: expected samples [N, ...] and labels [N], got samples ", describe(samples),
           " and labels ", describe(labels));
  HG_CHECK(!is_floating(labels.dtype()) && labels.dtype() != kBool,
           "Dataset: expected integer labels, got ", describe(labels));
  HG_CHECK(samples.device().is_cpu() && labels.device().is_cpu(),
           "Dataset: expected CPU tensors, got samples on ", samples.device().str(),
           " and labels on ", labels.device().str());
  if (samples.dtype() != kUInt8 && samples.dtype() != kFloat32) samples = samples.to(kFloat32);
  samples_ = samples.contiguous();
  labels_ = labels.to(kInt64).contiguous();
  sample_shape_.assign(samples_.sizes().begin() + 1, samples_.sizes().end());
  if (sample_shape_.size() == 2) sample_shape_.insert(sample_shape_.begin(), 1);
}

Dataset::Dataset(LabeledImages data, std::vector<Transform> transforms)
    : Dataset(std::move(data.images), std::move(data.labels), std::move(transforms)) {}

Batch Dataset::get_batch(const std::vector<int64_t>& indices, Generator& gen) const {
  const int64_t n = size();
  const auto B = static_cast<int64_t>(indices.size());
  Shape shape{B};
  shape.insert(shape.end(), sample_shape_.begin(), sample_shape_.end());
  const int64_t per = shape_numel(sample_shape_);
  Batch batch{empty(shape, kFloat32), empty({B}, kInt64)};
  float* dst = batch.data.data<float>();
  int64_t* target = batch.target.data<int64_t>();
  const int64_t* labels = n > 0 ? labels_.data<int64_t>() : nullptr;
  for (int64_t b = 0; b < B; ++b) {
    const int64_t i = indices[static_cast<size_t>(b)];
    HG_CHECK(i >= 0 && i < n, "Dataset::get_batch: index ", i, " is out of range for a dataset ",
             "of ", n, " samples");
    target[b] = labels[i];
    float* out = dst + b * per;
    if (samples_.dtype() == kUInt8) {
      const uint8_t* src = samples_.data<uint8_t>() + i * per;
      for (int64_t k = 0; k < per; ++k) out[k] = static_cast<float>(src[k]) / 255.0f;
    } else {
      std::memcpy(out, samples_.data<float>() + i * per, static_cast<size_t>(per) * sizeof(float));
    }
  }
  for (const Transform& transform : transforms_) batch.data = transform(batch.data, gen);
  return batch;
}

Batch Dataset::get_batch(const std::vector<int64_t>& indices) const {
  return get_batch(indices, default_generator());
}

}  // namespace hg::data
