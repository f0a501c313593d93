// Reductions on the GPU against the CPU: sum/mean/max/min over every kind of dim set (rows,
// columns, middle dims, all), argmax/argmin, var, forward and backward.
#include "parity.h"

using namespace hg;
using cuda_test::Inputs;
using cuda_test::Kind;

namespace {

const std::vector<std::pair<Shape, std::vector<int64_t>>> kReductions = {
    {{37}, {0}},         {{4, 129}, {1}},        {{129, 4}, {0}},  {{3, 5, 7}, {1}},
    {{3, 5, 7}, {0, 2}}, {{2, 3, 4, 5}, {1, 3}}, {{6, 1, 5}, {1}}, {{3, 0, 2}, {1}},
    {{300, 300}, {0}},   {{300, 300}, {1}},      {{70000}, {0}},   {{2, 40000}, {1}},
    {{5000, 3}, {0}}};

}  // namespace

TEST_CASE("sum, mean, max, min over dims match the CPU forward and backward") {
  HG_REQUIRE_CUDA();
  for (DType dtype : cuda_test::kFloatDtypes) {
    for (const auto& [shape, dims] : kReductions) {
      const std::string where = std::string(dtype_name(dtype)) + " " + shape_str(shape) + " dims " +
                                std::to_string(dims.size());
      const Tensor x = cuda_test::input(shape, dtype, 71);
      const auto d = dims;
      cuda_test::check_op(
          "sum " + where, {x}, [d](const Inputs& v) { return sum(v[0], d); }, Kind::Reduction);
      cuda_test::check_op(
          "mean keepdim " + where, {x}, [d](const Inputs& v) { return mean(v[0], d, true); },
          Kind::Reduction);
      if (shape_numel(shape) == 0) continue;  // max of nothing is an error on both
      cuda_test::check_op(
          "amax " + where, {x}, [d](const Inputs& v) { return amax(v[0], d); }, Kind::Exact, true,
          Kind::Exact);
    }
    const Tensor s = cuda_test::strided_input({33, 65}, dtype, 72);
    cuda_test::check_op(
        "sum strided", {s}, [](const Inputs& v) { return sum(v[0], {1}); }, Kind::Reduction);
    cuda_test::check_op(
        "sum all", {cuda_test::input({513, 257}, dtype, 73)},
        [](const Inputs& v) { return v[0].sum(); }, Kind::Reduction);
    cuda_test::check_op(
        "max all", {cuda_test::input({1000}, dtype, 74)},
        [](const Inputs& v) { return v[0].max(); }, Kind::Exact, true, Kind::Exact);
    cuda_test::check_op(
        "min all", {s}, [](const Inputs& v) { return v[0].min(); }, Kind::Exact, true, Kind::Exact);
    cuda_test::check_op(
        "var", {cuda_test::input({7, 300}, dtype, 75)},
        [](const Inputs& v) { return var(v[0], {1}); }, Kind::Reduction);
  }
}

TEST_CASE("integer and bool sums give int64 and match exactly") {
  HG_REQUIRE_CUDA();
  for (DType dtype : {kInt64, kUInt8, kBool}) {
    const Tensor x = cuda_test::input({40, 70}, dtype, 76);
    cuda_test::check_op(
        "int sum rows", {x}, [](const Inputs& v) { return sum(v[0], {1}); }, Kind::Exact, false);
    cuda_test::check_op(
        "int sum cols", {x}, [](const Inputs& v) { return sum(v[0], {0}); }, Kind::Exact, false);
    cuda_test::check_op(
        "int sum all", {x}, [](const Inputs& v) { return v[0].sum(); }, Kind::Exact, false);
    cuda_test::check_op(
        "int max", {x}, [](const Inputs& v) { return v[0].max(); }, Kind::Exact, false);
  }
}

TEST_CASE("max/min with NaN propagate NaN on both devices") {
  HG_REQUIRE_CUDA();
  std::vector<float> values(5000, 1.0f);
  values[3777] = NAN;
  values[3712] = NAN;  // two in one row: argmax picks the first, whichever thread meets it
  const Tensor x = from_vector(values, {50, 100});
  cuda_test::check_op(
      "max NaN", {x}, [](const Inputs& v) { return v[0].max(); }, Kind::Exact, false);
  cuda_test::check_op(
      "amax NaN rows", {x}, [](const Inputs& v) { return amax(v[0], {1}); }, Kind::Exact, false);
  cuda_test::check_op(
      "argmax NaN", {x}, [](const Inputs& v) { return argmax(v[0], 1); }, Kind::Exact, false);
  cuda_test::check_op(
      "argmax NaN, flat", {x}, [](const Inputs& v) { return argmax(v[0].reshape({5000}), 0); },
      Kind::Exact, false);
}

TEST_CASE("argmax/argmin pick the first extreme like the CPU") {
  HG_REQUIRE_CUDA();
  for (DType dtype : cuda_test::kAllDtypes) {
    // Few distinct values: many ties, so the first-index rule matters.
    Tensor x = cuda_test::input({6, 700}, dtype, 81);
    if (is_floating(dtype)) x = (x * 2.0).to(kInt64).to(dtype);
    for (int64_t dim : {0, 1}) {
      cuda_test::check_op(
          "argmax dim " + std::to_string(dim), {x},
          [dim](const Inputs& v) { return argmax(v[0], dim); }, Kind::Exact, false);
      cuda_test::check_op(
          "argmin dim " + std::to_string(dim), {x},
          [dim](const Inputs& v) { return argmin(v[0], dim, true); }, Kind::Exact, false);
    }
  }
  for (DType dtype : cuda_test::kFloatDtypes) {
    cuda_test::check_op(
        "max(dim) values and grad", {cuda_test::input({5, 33}, dtype, 82)},
        [](const Inputs& v) { return max(v[0], 1).values; }, Kind::Exact, true, Kind::Exact);
    cuda_test::check_op(
        "min(dim) strided", {cuda_test::strided_input({40, 300}, dtype, 83)},
        [](const Inputs& v) { return min(v[0], 1).values; }, Kind::Exact, true, Kind::Exact);
  }
}

TEST_CASE("prod over a dim and the whole tensor matches the CPU forward and backward") {
  HG_REQUIRE_CUDA();
  for (DType dtype : cuda_test::kFloatDtypes) {
    // values near 1 (so long products stay finite), a zero in some rows
    Tensor x = cuda_test::input({6, 40}, dtype, 77, 0.8, 1.25);
    x = where(lt(cuda_test::input({6, 40}, kFloat32, 78), full({6, 40}, -1.8)), zeros_like(x), x);
    cuda_test::check_op(
        "prod rows", {x}, [](const Inputs& v) { return prod(v[0], 1); }, Kind::Reduction);
    cuda_test::check_op(
        "prod cols keepdim", {x}, [](const Inputs& v) { return prod(v[0], 0, true); },
        Kind::Reduction);
    cuda_test::check_op(
        "prod all", {cuda_test::input({300}, dtype, 79, 0.9, 1.1)},
        [](const Inputs& v) { return prod(v[0]); }, Kind::Reduction);
  }
  cuda_test::check_op(
      "int prod", {from_vector<int64_t>({3, -2, 5, 7, 1, -1}, {2, 3})},
      [](const Inputs& v) { return prod(v[0], 1); }, Kind::Exact, false);
}
