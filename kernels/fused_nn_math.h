#pragma once
// Shared by the CPU and CUDA implementations of the fused nn families
// (kernels/fused_nn_kernels.h): the dropout mask bit of element i, from the same Philox words
// a float32 rand() fill draws (core/philox.h). HG_HD: compiled for host and device.
#include <cstdint>

#include "halfgrad/core/philox.h"

namespace hg::kernels::fused_math {

// The 4 keep bits of Philox block `offset + b`: element 4 b + j is kept when its uniform
// value (w[j] >> 8) * 2^-24 (what scale_uniform(u, 0, 1) returns unchanged) is >= p.
HG_HD inline void dropout_keep4(uint64_t seed, uint64_t offset, uint64_t b, float p, bool keep[4]) {
  const random::Philox4x32 w = random::philox_block(seed, offset + b);
  for (int j = 0; j < 4; ++j) keep[j] = random::uniform_f32(w.v[j]) >= p;
}

}  // namespace hg::kernels::fused_math
