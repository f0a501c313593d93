// Copies and casts between every pair of dtypes, fills, and factories on the GPU: all exact.
#include "parity.h"

using namespace hg;
using cuda_test::Inputs;
using cuda_test::Kind;

TEST_CASE("casts between every pair of dtypes match the CPU exactly") {
  HG_REQUIRE_CUDA();
  for (DType from : cuda_test::kAllDtypes) {
    // Values that exercise rounding to 16 bits (fractions), negatives and large magnitudes.
    const Tensor src = cuda_test::input({7, 13}, from, 21, -300.0, 300.0);
    for (DType to : cuda_test::kAllDtypes) {
      const std::string name =
          std::string("cast ") + std::string(dtype_name(from)) + "->" + std::string(dtype_name(to));
      if (to == kUInt8 && is_floating(from)) continue;  // negative float -> uint8 is undefined
      cuda_test::check_op(
          name, {src}, [to](const Inputs& x) { return x[0].to(to); }, Kind::Exact, false);
    }
  }
}

TEST_CASE("casts of special values (inf, NaN, subnormals, halfway cases) match the CPU") {
  HG_REQUIRE_CUDA();
  const std::vector<float> specials = {
      INFINITY,      -INFINITY,      NAN,   0.0f,   -0.0f,   1e-8f, 6e-8f,  65504.0f, 65520.0f,
      1.0009765625f, 1.00048828125f, 3e38f, 1e-40f, -1e-45f, 0.1f,  2049.0f};
  const Tensor src = from_vector(specials);
  for (DType to : {kFloat16, kBFloat16, kFloat64, kBool}) {
    cuda_test::check_op(
        std::string("special -> ") + std::string(dtype_name(to)), {src},
        [to](const Inputs& x) { return x[0].to(to); }, Kind::Exact, false);
  }
}

TEST_CASE("copies of strided, broadcast, odd-sized and empty tensors") {
  HG_REQUIRE_CUDA();
  for (DType dtype : {kFloat32, kFloat16, kBFloat16, kInt64}) {
    const Tensor strided = cuda_test::strided_input({9, 31}, dtype, 4);
    cuda_test::check_op(
        "contiguous()", {strided}, [](const Inputs& x) { return x[0].contiguous(); }, Kind::Exact);
    cuda_test::check_op(
        "cast strided", {strided}, [](const Inputs& x) { return x[0].to(kFloat32); }, Kind::Exact,
        false);
    cuda_test::check_op(
        "slice step 3", {cuda_test::input({100}, dtype, 5)},
        [](const Inputs& x) { return x[0].slice(0, 1, 100, 3).contiguous(); }, Kind::Exact);
    cuda_test::check_op(
        "expand", {cuda_test::input({1, 5}, dtype, 6)},
        [](const Inputs& x) {
          return x[0].expand({4, 5}).contiguous();
        },
        Kind::Exact);
    cuda_test::check_op(
        "copy_ broadcast", {cuda_test::input({3}, dtype, 7)},
        [dtype](const Inputs& x) {
          NoGradGuard no_grad;
          Tensor out = zeros({2, 3}, TensorOptions(dtype).device(x[0].device()));
          out.copy_(x[0]);
          return out;
        },
        Kind::Exact, false);
    cuda_test::check_op(
        "empty", {cuda_test::input({0, 4}, dtype, 8)},
        [](const Inputs& x) { return x[0].t().contiguous(); }, Kind::Exact);
  }
  // Odd sizes and misaligned starts take the scalar tails of the vector path.
  for (int64_t n : {1, 7, 8, 9, 1023, 4097}) {
    cuda_test::check_op(
        "cast tail " + std::to_string(n), {cuda_test::input({n + 1}, kFloat32, 9)},
        [n](const Inputs& x) { return x[0].slice(0, 1, n + 1).to(kFloat16); }, Kind::Exact, false);
  }
}

TEST_CASE("fill and the constant factories match the CPU exactly") {
  HG_REQUIRE_CUDA();
  for (DType dtype : cuda_test::kAllDtypes) {
    for (double value : {0.0, 1.0, -2.5, 0.1, 70000.0}) {
      const TensorOptions on_gpu = TensorOptions(dtype).device(kCUDA);
      if (dtype == kUInt8 && (value < 0 || value > 255)) continue;  // UB in C++
      if (dtype == kFloat16 && value > 65504) {  // past fp16's range: refused, as PyTorch does
        CHECK_THROWS_AS(full({3, 5}, value, on_gpu), Error);
        continue;
      }
      cuda_test::check_same("full", full({3, 5}, value, on_gpu), full({3, 5}, value, dtype),
                            Kind::Exact);
    }
    cuda_test::check_same("zeros", zeros({17}, TensorOptions(dtype).device(kCUDA)),
                          zeros({17}, dtype), Kind::Exact);
    cuda_test::check_same("ones", ones({2, 9}, TensorOptions(dtype).device(kCUDA)),
                          ones({2, 9}, dtype), Kind::Exact);
  }
  // fill_ on a strided view writes only the view.
  Tensor gpu = zeros({4, 6}, TensorOptions().device(kCUDA));
  Tensor cpu = zeros({4, 6});
  gpu.slice(1, 0, 6, 2).fill_(3.0);
  cpu.slice(1, 0, 6, 2).fill_(3.0);
  cuda_test::check_same("fill_ strided", gpu, cpu, Kind::Exact);
  cuda_test::check_same("arange", arange(0.0, 5.0, 0.5, TensorOptions().device(kCUDA)),
                        arange(0.0, 5.0, 0.5), Kind::Exact);
  cuda_test::check_same("linspace", linspace(-1.0, 1.0, 7, TensorOptions(kBFloat16).device(kCUDA)),
                        linspace(-1.0, 1.0, 7, kBFloat16), Kind::Exact);
  cuda_test::check_same("eye", eye(3, 4, TensorOptions(kFloat16).device(kCUDA)),
                        eye(3, 4, kFloat16), Kind::Exact);
  manual_seed(3);
  const Tensor perm_cuda = randperm(100, TensorOptions().device(kCUDA));
  manual_seed(3);
  cuda_test::check_same("randperm", perm_cuda, randperm(100), Kind::Exact);
}

namespace {
// [4, 6, 2] positions in [0, 5) along gather's dim 2, some repeated
Tensor remainder_free_picks(const TensorOptions& options) {
  std::vector<int64_t> picks(48);
  for (size_t i = 0; i < picks.size(); ++i) picks[i] = static_cast<int64_t>((i * 7) % 5);
  return from_vector<int64_t>(picks, {4, 6, 2}).to(options.device());
}
}  // namespace

TEST_CASE("views and joins match the CPU forward and backward") {
  HG_REQUIRE_CUDA();
  for (DType dtype : cuda_test::kFloatDtypes) {
    const Tensor x = cuda_test::input({4, 6, 5}, dtype, 131);
    cuda_test::check_op(
        "permute+reshape", {x},
        [](const Inputs& v) {
          return v[0].permute({2, 0, 1}).reshape({5, 24}) * 2.0;
        },
        Kind::Exact);
    cuda_test::check_op(
        "slice/select/narrow", {x},
        [](const Inputs& v) { return v[0].slice(1, 1, 6, 2).select(2, 3).narrow(0, 1, 2) * 3.0; },
        Kind::Exact);
    cuda_test::check_op(
        "expand", {cuda_test::input({4, 1, 5}, dtype, 132)},
        [](const Inputs& v) {
          return v[0].expand({4, 6, 5}) * 1.5;
        },
        Kind::Exact);
    cuda_test::check_op(
        "cat", {x, cuda_test::input({4, 2, 5}, dtype, 133)},
        [](const Inputs& v) {
          return cat({v[0], v[1]}, 1);
        },
        Kind::Exact);
    cuda_test::check_op(
        "stack", {x, cuda_test::strided_input({4, 6, 5}, dtype, 134)},
        [](const Inputs& v) {
          return stack({v[0], v[1]}, 0);
        },
        Kind::Exact);
    // split, index_select and gather (embedding's kernels; repeated indices sum their gradients)
    cuda_test::check_op(
        "split/index_select/gather", {x},
        [](const Inputs& v) {
          const auto device = TensorOptions(kInt64).device(v[0].device());
          const Tensor rows = from_vector<int64_t>({5, 0, 5, 2}, {4}).to(device.device());
          const Tensor picks = remainder_free_picks(device);
          return cat({split(v[0], 4, 1)[1].reshape({-1}), index_select(v[0], 1, rows).reshape({-1}),
                      gather(v[0], 2, picks).reshape({-1})}) *
                 2.0;
        },
        Kind::Exact);
    // sort and topk: the order itself must match to the index (ties broken by position)
    cuda_test::check_op(
        "sort/topk", {cuda_test::input({4, 3, 5}, dtype, 135)},
        [](const Inputs& v) {
          const Tensor ties = cat({v[0], v[0].narrow(1, 0, 2)}, 1);  // [4, 5, 5], repeats
          const auto sorted = sort(ties, 1, true), top = topk(ties, 3, -1, false);
          return cat({sorted.values.reshape({-1}), top.values.reshape({-1}),
                      sorted.indices.to(v[0].dtype()).reshape({-1}),
                      top.indices.to(v[0].dtype()).reshape({-1})});
        },
        Kind::Exact);
  }
}
