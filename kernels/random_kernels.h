#pragma once
// Random fills as a kernel family, so a tensor factory draws on the tensor's own device. Every
// device produces the same bits for the same (seed, offset): the CPU column is core/random.h's
// fill_* functions, the CUDA column runs the same per-block functions of core/philox.h.
#include <cstdint>

#include "halfgrad/kernels/dispatch.h"
#include "halfgrad/kernels/tensor_view.h"

namespace hg::kernels {

enum class RandomKind {
  Uniform,  // in [a, b)
  Normal,   // mean a, stddev b
  RandInt   // integers in [low, high) (int64 out)
};

struct RandomParams {
  double a = 0.0;
  double b = 1.0;
  int64_t low = 0;  // RandInt only (kept exact: a double would round past 2^53)
  int64_t high = 1;
};

// Fills a contiguous view (float32 or float64 for Uniform/Normal, int64 for RandInt) with the
// values of one fill that starts at block `offset` of `seed`'s stream; the caller reserved the
// blocks (random::blocks_* in core/random.h).
using RandomFillFn = void (*)(RandomKind kind, const TensorView& out, const RandomParams& p,
                              uint64_t seed, uint64_t offset);

extern DispatchTable<RandomFillFn> random_fill;

}  // namespace hg::kernels
