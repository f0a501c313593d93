#pragma once
// Small data sets and pass readers shared by the DataLoader tests.
#include <utility>
#include <vector>

#include "halfgrad/data/dataloader.h"
#include "test_util.h"

using hg::data::Batch;
using hg::data::DataLoader;
using hg::data::DataLoaderOptions;
using hg::data::Dataset;
using hg::test::expect_error;

// n samples [1, 2, 2] whose four values all equal the sample index; label = index.
inline Dataset indexed(int64_t n, std::vector<hg::data::Transform> transforms = {}) {
  std::vector<float> values;
  for (int64_t i = 0; i < n; ++i) values.insert(values.end(), 4, static_cast<float>(i));
  return Dataset(hg::from_vector(values, {n, 1, 2, 2}), hg::arange(n, hg::kInt64),
                 std::move(transforms));
}

// Every batch of one pass, as (data, target) value vectors.
inline std::vector<std::pair<std::vector<float>, std::vector<int64_t>>> one_pass(
    DataLoader& loader) {
  std::vector<std::pair<std::vector<float>, std::vector<int64_t>>> out;
  for (auto& batch : loader) {
    out.emplace_back(batch.data.to_vector<float>(), batch.target.to_vector<int64_t>());
  }
  return out;
}

inline std::vector<int64_t> targets(DataLoader& loader) {
  std::vector<int64_t> all;
  for (const auto& [data, target] : one_pass(loader))
    all.insert(all.end(), target.begin(), target.end());
  return all;
}

// A 3-channel 6x5 image stack with distinct positive values.
inline Dataset images3(int64_t n, std::vector<hg::data::Transform> transforms) {
  return Dataset(hg::arange(n * 3 * 6 * 5, hg::kFloat32).view({n, 3, 6, 5}) + 1.0,
                 hg::zeros({n}, hg::kInt64), std::move(transforms));
}
