#pragma once
// How a reduction is laid out for the CUDA kernels (host side, no CUDA types): `in` split into
// kept dims (one output each) and reduced dims (summed into it), each coalesced, plus the plan
// that says which kernel shape fits the memory layout.
#include <cstdint>

#include "halfgrad/kernels/tensor_view.h"

namespace hg::cuda {

// Up to kMaxDims dims with a size and one stride per operand (in, and out for kept dims).
struct IndexMap {
  int ndim = 0;
  int64_t sizes[kernels::kMaxDims] = {};
  int64_t in_strides[kernels::kMaxDims] = {};
  int64_t out_strides[kernels::kMaxDims] = {};
};

struct ReducePlan {
  IndexMap kept;     // M = product of sizes: one output each
  IndexMap reduced;  // R = product of sizes: the elements of one output
  int64_t M = 1;
  int64_t R = 1;
  // Row: the innermost input dim is reduced, so a block of threads walks one output's
  // elements side by side (coalesced). Column: it is kept, so each thread owns one output and
  // neighbouring threads read neighbouring outputs.
  bool rows = false;
  int64_t splits = 1;  // R is cut into this many chunks, combined by a second kernel
};

// `out` has in's sizes with stride 0 in the reduced dims (kernels/kernels.h ReduceFn).
ReducePlan plan_reduction(const kernels::TensorView& in, const kernels::TensorView& out);

}  // namespace hg::cuda
