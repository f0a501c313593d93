#pragma once
// Dataset: an in-memory stack of samples and their labels (like torch.utils.data.TensorDataset)
// plus the transforms that turn gathered samples into a training batch.
//
//   hg::data::Dataset train(hg::data::load_cifar10("datasets/cifar10", true),
//                           {hg::data::random_crop(32, 4), hg::data::random_horizontal_flip()});
//   hg::data::Batch b = train.get_batch({0, 1, 2});   // b.data float32 [3, 3, 32, 32]
#include <cstdint>
#include <vector>

#include "halfgrad/core/random.h"
#include "halfgrad/core/tensor.h"
#include "halfgrad/data/labeled_images.h"
#include "halfgrad/data/transforms.h"

namespace hg::data {

struct Batch {
  Tensor data;    // float32 [B, C, H, W] (or [B, ...] for samples that are not images)
  Tensor target;  // int64 [B]
};

class Dataset {
 public:
  Dataset() = default;
  // samples: [N, ...] of any dtype; uint8 and float32 are kept as they are, other dtypes are
  // converted to float32 once here. A [N, H, W] stack is treated as [N, 1, H, W].
  // labels: [N], any integer dtype (stored as int64). Tensors live on the CPU.
  Dataset(Tensor samples, Tensor labels, std::vector<Transform> transforms = {});
  explicit Dataset(LabeledImages data, std::vector<Transform> transforms = {});

  int64_t size() const { return labels_.defined() ? labels_.size(0) : 0; }
  // The shape of one sample before the transforms, e.g. [1, 28, 28].
  const Shape& sample_shape() const { return sample_shape_; }
  const Tensor& samples() const { return samples_; }
  const Tensor& labels() const { return labels_; }
  const std::vector<Transform>& transforms() const { return transforms_; }

  // Gathers the samples at `indices` into a float32 batch [B, ...] (uint8 values are scaled by
  // 1/255 into [0, 1], like torchvision's ToTensor), applies the transforms in order with `gen`,
  // and gathers the labels into int64 [B]. Indices must be in [0, size()); repeats are allowed.
  // Thread-safe (const, and touches no autograd state): the DataLoader calls it from its
  // background thread.
  Batch get_batch(const std::vector<int64_t>& indices, Generator& gen) const;
  // Same, drawing augmentation randomness from default_generator().
  Batch get_batch(const std::vector<int64_t>& indices) const;

 private:
  Tensor samples_;  // contiguous uint8 or float32 [N, ...sample_shape]
  Tensor labels_;   // contiguous int64 [N]
  Shape sample_shape_;
  std::vector<Transform> transforms_;
};

}  // namespace hg::data
