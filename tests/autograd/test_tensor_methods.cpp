// Tensor's in-place arithmetic (autograd/tensor_methods.cpp): written straight into the tensor
// where that gives what computing out of place and copying back gives, out of place elsewhere;
// and the math methods, which forward to the free functions.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "halfgrad/halfgrad.h"
#include "test_util.h"

using namespace hg;
using hg::test::expect_error;
using hg::test::same_bits;
using hg::test::values;

TEST_CASE("in-place arithmetic on a contiguous tensor allocates no result") {
  // 2 MiB each: the CPU allocator counts allocations of 1 MiB and more
  Tensor x = full({512, 1024}, 3.0);
  const Tensor y = full({512, 1024}, 2.0), row = full({1024}, 4.0);
  const void* data = x.data_ptr();
  const uint64_t before = cpu::memory_stats().allocations;
  x.add_(y);    // 5
  x.mul_(y);    // 10
  x.sub_(row);  // 6: a broadcast operand
  x.div_(y);    // 3
  x.mul_(4.0);  // 12: scalars too
  x += 3.0;     // 15
  x.div_(5.0);  // 3
  x -= 1.0;     // 2
  x *= 1.5;     // 3
  CHECK(cpu::memory_stats().allocations == before);
  CHECK(x.data_ptr() == data);
  CHECK(x.max().item<float>() == 3.0f);
  CHECK(x.min().item<float>() == 3.0f);
  x.add_(y, -0.5);  // 2: with alpha, only the product is allocated
  x.sub_(y, 0.5);   // 1
  CHECK(cpu::memory_stats().allocations == before + 2);
  CHECK(x.data_ptr() == data);
  CHECK(x.max().item<float>() == 1.0f);
}

TEST_CASE("in-place arithmetic reads an operand that overlaps the tensor before writing it") {
  Tensor x = from_vector(std::vector<float>{1, 2, 3, 4}, {2, 2});
  x.add_(x.t());  // every element read before any is written: [[2, 5], [5, 8]]
  CHECK(values(x) == std::vector<double>{2, 5, 5, 8});
  x.mul_(x);  // the same layout: elementwise
  CHECK(values(x) == std::vector<double>{4, 25, 25, 64});
  Tensor row = from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, {2, 3});
  row.sub_(row.narrow(0, 0, 1));  // row 0 broadcast over both rows, row 0 among them
  CHECK(values(row) == std::vector<double>{0, 0, 0, 3, 3, 3});
}

TEST_CASE("in-place arithmetic on views, mixed dtypes and 0-dim operands") {
  Tensor base = zeros({3, 2});
  Tensor column = base.t();  // [2, 3], not contiguous
  column.add_(from_vector(std::vector<float>{1, 2, 3}));
  CHECK(values(base) == std::vector<double>{1, 1, 2, 2, 3, 3});
  Tensor h = full({3}, 1.0, kFloat16);
  h.add_(full({}, 0.5));  // a 0-dim fp32 operand: the result stays fp16
  CHECK(h.dtype() == kFloat16);
  CHECK(values(h) == std::vector<double>{1.5, 1.5, 1.5});
  Tensor f = full({2}, 1.0);
  f.mul_(full({2}, 3.0, kFloat16));  // an fp16 operand into fp32
  CHECK(values(f) == std::vector<double>{3, 3});
  Tensor counts = full({2}, 6.0, kInt64);
  expect_error([&] { counts.div_(full({2}, 4.0, kInt64)); }, {"div_", "int64", "truncation"});
  expect_error([&] { counts.add_(full({3}, 1.0, kInt64)); }, {"add_", "[3]", "[2] int64"});
}

TEST_CASE("in-place arithmetic into a tensor that backward saved is detected") {
  Tensor leaf = ones({3}).requires_grad_();
  Tensor e = exp(leaf);
  const Tensor z = (leaf * e).sum();  // MulBackward saved e
  {
    NoGradGuard no_grad;
    e.add_(ones({3}));
  }
  expect_error([&] { z.backward(); }, {"MulBackward", "modified in place"});
}

TEST_CASE("in-place arithmetic refuses an operand that requires grad under grad mode") {
  Tensor x = zeros({2});
  const Tensor w = ones({2}).requires_grad_();
  expect_error([&] { x.add_(w); }, {"requires grad"});
  expect_error([&] { x.mul_(w); }, {"requires grad"});
}

TEST_CASE("in-place scalar arithmetic writes what the out-of-place op writes, to the bit") {
  const Tensor start = randn({257}, TensorOptions().dtype(kFloat64)) * 3.0;
  for (DType dtype : {kFloat32, kFloat16, kBFloat16, kFloat64}) {
    const Tensor x = start.to(dtype);  // values that round differently in each dtype
    Tensor y = x.clone();
    y.mul_(0.1);
    CHECK(values(y) == values(x * 0.1));
    y = x.clone();
    y.div_(3.0);
    CHECK(values(y) == values(x / 3.0));
    y = x.clone();
    y += 0.7;
    CHECK(values(y) == values(x + 0.7));
  }
  Tensor counts = full({2}, 6.0, kInt64);  // integers: out of place, as before
  counts *= 2.0;
  CHECK(values(counts) == std::vector<double>{12, 12});
  expect_error([&] { counts.div_(4.0); }, {"div_", "int64", "truncation"});
}

TEST_CASE("add_ and sub_ with alpha write what they wrote out of place, in every dtype") {
  const Tensor a = randn({300}, TensorOptions().dtype(kFloat64)) * 5.0;
  const Tensor b = randn({300}, TensorOptions().dtype(kFloat64)) * 5.0;
  for (DType dtype : {kFloat32, kFloat64, kFloat16, kBFloat16}) {
    for (DType other : {dtype, kFloat16}) {
      const Tensor x = a.to(dtype), y = b.to(other);
      Tensor in_place = x.clone();
      in_place.add_(y, 0.1);
      // the reference: the product in y's dtype, the sum in the common one (a 16-bit common
      // dtype in float), rounded to x's dtype once
      const DType common = result_type(x, y);
      const bool widen = common == kFloat16 || common == kBFloat16;
      const Tensor ref = (widen ? x.to(kFloat32) + y.to(kFloat32) * 0.1 : x + y * 0.1).to(dtype);
      CHECK(values(in_place) == values(ref));
      in_place = x.clone();
      in_place.sub_(y, 3.0);
      const Tensor ref_sub =
          (widen ? x.to(kFloat32) - y.to(kFloat32) * 3.0 : x - y * 3.0).to(dtype);
      CHECK(values(in_place) == values(ref_sub));
    }
  }
}

TEST_CASE("the math methods give their free functions' results") {
  manual_seed(129);
  const Tensor x = randn({3, 4});
  const Tensor picks = from_vector<int64_t>({2, 0}, {2});
  CHECK(same_bits(x.argmin(1, true), argmin(x, 1, true)));
  CHECK(same_bits(x.var(), var(x)));
  CHECK(same_bits(x.var({0}, true, 0), var(x, {0}, true, 0)));
  CHECK(same_bits(x.std(), hg::std(x)));
  CHECK(same_bits(x.std({1}, false, 0), hg::std(x, {1}, false, 0)));
  CHECK(same_bits(x.index_select(1, picks), index_select(x, 1, picks)));
  const Tensor rows = from_vector<int64_t>({1, 2, 0, 1}, {1, 4});
  CHECK(same_bits(x.gather(0, rows), gather(x, 0, rows)));
  CHECK(same_bits(x.flip({0, 1}), flip(x, {0, 1})));
  const Tensor odd = from_vector<float>({1, NAN, INFINITY});
  CHECK(same_bits(odd.isnan(), isnan(odd)));
  CHECK(same_bits(odd.isinf(), isinf(odd)));
  CHECK(same_bits(odd.isfinite(), isfinite(odd)));
  CHECK(same_bits(x.abs().log1p(), log1p(abs(x))));
  CHECK(same_bits(x.expm1(), expm1(x)));
  CHECK(x.allclose(x * (1 + 1e-6)));
  CHECK_FALSE(odd.allclose(odd));
  CHECK(odd.allclose(odd, 1e-5, 1e-8, /*equal_nan=*/true));
}

TEST_CASE("the rounding, elementwise, reduction and layout methods give their free functions'") {
  manual_seed(130);
  const Tensor x = randn({3, 4}) * 3.0;
  CHECK(same_bits(x.neg(), neg(x)));
  CHECK(same_bits(x.floor(), floor(x)));
  CHECK(same_bits(x.ceil(), ceil(x)));
  CHECK(same_bits(x.round(), round(x)));
  CHECK(same_bits(x.round(2), round(x, 2)));
  CHECK(same_bits(x.trunc(), trunc(x)));
  CHECK(same_bits(x.erf(), erf(x)));
  CHECK(same_bits(x.sign(), sign(x)));
  CHECK(same_bits(x.square(), square(x)));
  CHECK(same_bits(x.reciprocal(), reciprocal(x)));
  CHECK(same_bits(x.abs().rsqrt(), rsqrt(abs(x))));
  CHECK(same_bits(x.sin(), sin(x)));
  CHECK(same_bits(x.cos(), cos(x)));
  CHECK(same_bits(x.clamp_min(0.5), clamp_min(x, 0.5)));
  CHECK(same_bits(x.clamp_max(0.5), clamp_max(x, 0.5)));
  CHECK(same_bits(x.prod(), prod(x)));
  CHECK(same_bits(x.prod(1, true), prod(x, 1, true)));
  CHECK(same_bits(x.amax({0}), amax(x, {0})));
  CHECK(same_bits(x.norm(), norm(x)));
  CHECK(same_bits(x.norm(1.0, {1}, true), norm(x, 1.0, {1}, true)));
  CHECK(same_bits(x.tril(-1), tril(x, -1)));
  CHECK(same_bits(x.triu(1), triu(x, 1)));
  CHECK(same_bits(x.roll({1}, {1}), roll(x, {1}, {1})));
  CHECK(same_bits(x.repeat({2, 1}), repeat(x, {2, 1})));
  const std::vector<Tensor> chunks = x.chunk(2, 1), pieces = x.split(3, 1);
  REQUIRE(chunks.size() == 2);
  REQUIRE(pieces.size() == 2);
  CHECK(same_bits(chunks[1], chunk(x, 2, 1)[1]));
  CHECK(pieces[1].sizes() == Shape{3, 1});
}
