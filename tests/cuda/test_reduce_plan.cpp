// The host half of the CUDA reduction (kernels/cuda/reduce_geometry.cpp): for every layout the
// parity tests use, and strided / broadcast / size-0 ones, walking the kept and reduced index
// maps the way the kernels do must visit every input element exactly once and send it to the
// output its position maps to. Runs without a GPU (CUDA builds only: the planner is part of the
// CUDA backend).
#include <doctest/doctest.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#if defined(HG_WITH_CUDA)
#include "halfgrad/kernels/cuda/reduce_geometry.h"

namespace {

using hg::kernels::TensorView;

struct Layout {
  std::vector<int64_t> sizes, strides;
  std::vector<bool> reduced;
};

// in: the given sizes/strides; out: in's sizes, stride 0 in reduced dims, kept dims contiguous.
void views_of(const Layout& l, TensorView& in, TensorView& out) {
  in.ndim = out.ndim = static_cast<int>(l.sizes.size());
  int64_t stride = 1;
  for (int d = in.ndim - 1; d >= 0; --d) {
    in.sizes[d] = out.sizes[d] = l.sizes[d];
    in.strides[d] = l.strides[d];
    out.strides[d] = l.reduced[d] ? 0 : stride;
    if (!l.reduced[d]) stride *= l.sizes[d];
  }
}

// What the device's DeviceIndexMap::offsets computes, on the host.
void offsets(const hg::cuda::IndexMap& map, int64_t linear, int64_t& in, int64_t& out) {
  in = out = 0;
  for (int d = map.ndim - 1; d >= 0; --d) {
    const int64_t i = linear % map.sizes[d];
    linear /= map.sizes[d];
    in += i * map.in_strides[d];
    out += i * map.out_strides[d];
  }
}

// Every input element (by offset) -> the output offset it must be reduced into, and how many
// positions of the view alias that element (more than one only along stride-0 dims).
std::map<int64_t, int64_t> expected_targets(const TensorView& in, const TensorView& out,
                                            std::map<int64_t, int>& aliases) {
  std::map<int64_t, int64_t> target;
  int64_t numel = 1;
  for (int d = 0; d < in.ndim; ++d) numel *= in.sizes[d];
  for (int64_t linear = 0; linear < numel; ++linear) {
    int64_t rest = linear, in_off = 0, out_off = 0;
    for (int d = in.ndim - 1; d >= 0; --d) {
      const int64_t i = rest % in.sizes[d];
      rest /= in.sizes[d];
      in_off += i * in.strides[d];
      out_off += i * out.strides[d];
    }
    target[in_off] = out_off;  // broadcast inputs: every alias maps to the same output
    ++aliases[in_off];
  }
  return target;
}

void check_plan(const Layout& l) {
  TensorView in, out;
  views_of(l, in, out);
  const hg::cuda::ReducePlan plan = hg::cuda::plan_reduction(in, out);
  std::map<int64_t, int> aliases;
  const std::map<int64_t, int64_t> want = expected_targets(in, out, aliases);
  int64_t numel = 1, kept = 1, reduced = 1;
  for (int d = 0; d < in.ndim; ++d) {
    numel *= in.sizes[d];
    (l.reduced[d] ? reduced : kept) *= in.sizes[d];
  }
  CAPTURE(numel);
  CHECK(plan.M == kept);
  if (plan.M == 0) return;
  CHECK(plan.R == reduced);
  CHECK(plan.splits >= 1);
  if (!plan.rows) CHECK(plan.splits <= 65535);  // grid.y of the column kernel
  std::map<int64_t, int64_t> got;
  std::map<int64_t, int> visits;
  for (int64_t m = 0; m < plan.M; ++m) {
    int64_t base = 0, out_off = 0;
    offsets(plan.kept, m, base, out_off);
    for (int64_t r = 0; r < plan.R; ++r) {
      int64_t in_off = 0, unused = 0;
      offsets(plan.reduced, r, in_off, unused);
      got[base + in_off] = out_off;
      ++visits[base + in_off];
    }
  }
  CHECK(got == want);
  CHECK(visits == aliases);  // each position of the view exactly once
}

}  // namespace

TEST_CASE("reduce plan: the kept and reduced index maps cover every input element once") {
  const std::vector<Layout> layouts = {
      {{37}, {1}, {true}},
      {{4, 129}, {129, 1}, {false, true}},
      {{129, 4}, {4, 1}, {true, false}},
      {{3, 5, 7}, {35, 7, 1}, {false, true, false}},
      {{3, 5, 7}, {35, 7, 1}, {true, false, true}},
      {{2, 3, 4, 5}, {60, 20, 5, 1}, {false, true, false, true}},
      {{6, 1, 5}, {5, 5, 1}, {false, true, false}},
      {{3, 0, 2}, {2, 2, 1}, {false, true, false}},
      {{3, 0, 2}, {2, 2, 1}, {true, false, true}},
      {{300, 300}, {300, 1}, {true, false}},
      {{70000}, {1}, {true}},
      {{2, 40000}, {40000, 1}, {false, true}},
      {{5000, 3}, {3, 1}, {true, false}},
      {{33, 65}, {1, 33}, {false, true}},          // transposed storage
      {{4, 6}, {0, 1}, {true, false}},             // broadcast dim reduced
      {{4, 6}, {12, 2}, {false, true}},            // every other column
      {{2, 3, 4}, {12, 4, 1}, {true, true, true}}  // everything
  };
  for (const Layout& l : layouts) check_plan(l);
}
#endif
