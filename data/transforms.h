#pragma once
// Batch transforms for data augmentation and normalisation. A Transform maps a float32 batch
// [B, C, H, W] to a new one and draws any randomness from the Generator it is given, so the same
// generator state gives the same augmentation (the DataLoader hands each batch a generator seeded
// from (seed, epoch, batch index); see data/dataloader.h). Transforms keep no state: one can be
// shared by several datasets and run on the loader's background thread.
//
// The usual CIFAR-10 training pipeline (torchvision's RandomCrop(32, 4), RandomHorizontalFlip,
// Normalize), applied in order by a Dataset, and DAWNBench's 8x8 cutout after them:
//   {random_crop(32, 4), random_horizontal_flip(), normalize({0.4914, 0.4822, 0.4465},
//                                                           {0.2470, 0.2435, 0.2616}),
//    cutout(8)}
#include <cstdint>
#include <functional>
#include <vector>

#include "halfgrad/core/random.h"
#include "halfgrad/core/tensor.h"

namespace hg::data {

using Transform = std::function<Tensor(const Tensor& batch, Generator& gen)>;

// (x - mean[c]) / std[c] per channel c; one value each applies to every channel. Needs std > 0
// and as many values as channels. Draws nothing from the generator.
Transform normalize(std::vector<float> mean, std::vector<float> std);

// What random_crop pads with: zeros (torchvision's RandomCrop default), or the image mirrored
// at its edges without repeating the edge row or column (padding_mode "reflect": row -1 is
// row 1), as the DAWNBench ResNet-9 code padded CIFAR-10.
enum class Padding { Zeros, Reflect };

// Pads every image by `padding` on each side, then crops a size x size window at a random
// position (drawn per image): [B, C, H, W] -> [B, C, size, size]. Needs size <= H + 2 padding
// and size <= W + 2 padding; Reflect also padding < H and padding < W.
Transform random_crop(int64_t size, int64_t padding = 0, Padding mode = Padding::Zeros);

// Mirrors each image left-right with probability p (drawn per image).
Transform random_horizontal_flip(double p = 0.5);

// Cutout (DeVries & Taylor 2017) as the DAWNBench ResNet-9 code applied it: in every image, a
// size x size square at a random position wholly inside the image (drawn per image) set to
// `value` in every channel. After normalize, the default 0 is the mean colour. Needs
// 0 < size <= H and size <= W.
Transform cutout(int64_t size, float value = 0.f);

// Every image of a contiguous float32 CPU batch [B, C, H, W] mirrored left-right: the second
// view of flip test-time augmentation (hg_cifar10 --tta), deterministic, so not a Transform.
Tensor horizontal_flip(const Tensor& batch);

}  // namespace hg::data
