#include "halfgrad/kernels/cuda/reduce_geometry.h"

#include <algorithm>
#include <cstdlib>

namespace hg::cuda {

namespace {

// Appends a dim to the map, merging it into the previous one when both strides continue it.
void push_dim(IndexMap& map, int64_t size, int64_t in_stride, int64_t out_stride) {
  if (size == 1) return;
  const int last = map.ndim - 1;
  if (last >= 0 && map.in_strides[last] == in_stride * size &&
      map.out_strides[last] == out_stride * size) {
    map.sizes[last] *= size;
    map.in_strides[last] = in_stride;
    map.out_strides[last] = out_stride;
    return;
  }
  map.sizes[map.ndim] = size;
  map.in_strides[map.ndim] = in_stride;
  map.out_strides[map.ndim] = out_stride;
  ++map.ndim;
}

int64_t product(const IndexMap& map) {
  int64_t n = 1;
  for (int d = 0; d < map.ndim; ++d) n *= map.sizes[d];
  return n;
}

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

}  // namespace

ReducePlan plan_reduction(const kernels::TensorView& in, const kernels::TensorView& out) {
  ReducePlan plan;
  int64_t innermost_stride = -1;
  bool innermost_reduced = false;
  for (int d = 0; d < in.ndim; ++d) {
    const bool reduced = out.strides[d] == 0;
    if (reduced) {
      push_dim(plan.reduced, in.sizes[d], in.strides[d], 0);
    } else {
      push_dim(plan.kept, in.sizes[d], in.strides[d], out.strides[d]);
    }
    if (in.sizes[d] > 1) {
      const int64_t s = std::llabs(in.strides[d]);
      if (innermost_stride < 0 || s < innermost_stride) {
        innermost_stride = s;
        innermost_reduced = reduced;
      }
    }
  }
  // A reduced dim of size 0 makes R = 0 (outputs get the identity); a kept one makes M = 0.
  for (int d = 0; d < in.ndim; ++d) {
    if (in.sizes[d] == 0) {
      if (out.strides[d] == 0)
        plan.R = 0;
      else
        plan.M = 0;
    }
  }
  if (plan.R != 0) plan.R = product(plan.reduced);
  if (plan.M != 0) plan.M = product(plan.kept);
  plan.rows = innermost_reduced && plan.R > 1;
  if (plan.M == 0 || plan.R <= 1) return plan;
  if (plan.rows) {
    // Aim for ~1024 blocks, each thread of a 256-thread block summing at least 16 elements.
    plan.splits = std::max<int64_t>(1, std::min(ceil_div(1024, plan.M), plan.R / 4096));
  } else {
    // Aim for ~256K threads, each summing at least 32 elements; grid.y holds the splits.
    plan.splits = std::max<int64_t>(1, std::min(ceil_div(262144, plan.M), plan.R / 32));
    plan.splits = std::min<int64_t>(plan.splits, 65535);
  }
  return plan;
}

}  // namespace hg::cuda
