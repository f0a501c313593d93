#include <algorithm>
#include <cmath>
#include <sstream>
#include <type_traits>

#include "halfgrad/core/random.h"
#include "test_util.h"

using namespace hg;
using hg::test::expect_error;
using hg::test::values;

TEST_CASE("tensor: factories give shape, dtype, strides and values") {
  Tensor z = zeros({2, 3});
  CHECK(z.sizes() == Shape{2, 3});
  CHECK(z.strides() == Shape{3, 1});
  CHECK(z.dtype() == kFloat32);
  CHECK(z.numel() == 6);
  CHECK(z.is_contiguous());
  CHECK(values(z) == std::vector<double>(6, 0.0));
  CHECK(values(ones({4}, kFloat16)) == std::vector<double>(4, 1.0));
  CHECK(values(full({2}, 2.5, kBFloat16)) == std::vector<double>{2.5, 2.5});
  CHECK(values(arange(4)) == std::vector<double>{0, 1, 2, 3});
  CHECK(values(arange(1.0, 2.0, 0.25)) == std::vector<double>{1, 1.25, 1.5, 1.75});
  CHECK(scalar_tensor(3.0).dim() == 0);
  CHECK(scalar_tensor(3.0).item<float>() == 3.0f);
}

TEST_CASE("tensor: from_vector converts to the requested dtype with RNE") {
  Tensor h = from_vector(std::vector<float>{1.0f, 65519.99f, 65520.0f, 1e-8f}, kFloat16);
  CHECK(h.dtype() == kFloat16);
  const auto v = h.to_vector<float>();
  CHECK(v[0] == 1.0f);
  CHECK(v[1] == 65504.0f);
  CHECK(std::isinf(v[2]));
  CHECK(v[3] == 0.0f);
  Tensor i = from_vector(std::vector<int64_t>{3, -1}, kInt64);
  CHECK(i.to_vector<int64_t>() == std::vector<int64_t>{3, -1});
  expect_error(
      [] {
        from_vector(std::vector<float>{1, 2, 3}, {2, 2});
      },
      {"from_vector", "3 values", "[2, 2]"});
}

TEST_CASE("tensor: from_vector without a dtype takes it from the values, as torch::tensor") {
  CHECK(from_vector(std::vector<int64_t>{1 << 30, -2}).dtype() == kInt64);
  CHECK(from_vector(std::vector<int>{7}).to_vector<int64_t>() == std::vector<int64_t>{7});
  CHECK(from_vector(std::vector<long long>{-7}).dtype() == kInt64);  // every integer width
  CHECK(from_vector(std::vector<size_t>{9}).to_vector<int64_t>() == std::vector<int64_t>{9});
  CHECK(from_vector(std::vector<int8_t>{-3}).to_vector<int64_t>() == std::vector<int64_t>{-3});
  CHECK(from_vector(std::vector<bool>{true, false}).dtype() == kBool);
  CHECK(from_vector(std::vector<uint8_t>{255}).dtype() == kUInt8);
  CHECK(from_vector(std::vector<Half>{Half(1.5f)}).dtype() == kFloat16);
  CHECK(from_vector(std::vector<BFloat16>{BFloat16(1.5f)}).dtype() == kBFloat16);
  CHECK(from_vector(std::vector<float>{0.5f}).dtype() == kFloat32);
  CHECK(from_vector(std::vector<double>{0.1}).dtype() == kFloat32);  // the default dtype
  CHECK(from_vector(std::vector<double>{0.1}, kFloat64).item<double>() == 0.1);
  // a device alone leaves the dtype to the values; an explicit dtype always wins
  CHECK(from_vector(std::vector<int64_t>{3}, TensorOptions(kCPU)).dtype() == kInt64);
  CHECK(from_vector(std::vector<int64_t>{3}, kFloat16).dtype() == kFloat16);
  CHECK(from_vector(std::vector<int64_t>{3}, TensorOptions().requires_grad(false)).dtype() ==
        kInt64);
  // arange(n) likewise: int64 labels by default, as torch.arange(10)
  CHECK(arange(4).dtype() == kInt64);
  CHECK(arange(4).to_vector<int64_t>() == std::vector<int64_t>{0, 1, 2, 3});
  CHECK(arange(4, kFloat16).dtype() == kFloat16);
  CHECK(arange(0, 2, 0.5).dtype() == kFloat32);
  CHECK(arange(1, 7, 2, kInt64).to_vector<int64_t>() == std::vector<int64_t>{1, 3, 5});
  // integers in all three places: int64, as torch.arange(1, 7, 2); any floating point: float32
  CHECK(arange(1, 7, 2).dtype() == kInt64);
  CHECK(arange(int64_t{2}, 5).to_vector<int64_t>() == std::vector<int64_t>{2, 3, 4});
  CHECK(arange(1, 7, 2, kFloat16).dtype() == kFloat16);
  CHECK(arange(1, 7.0).dtype() == kFloat32);
  expect_error([] { (void)arange(int64_t{1} << 60, (int64_t{1} << 60) + 3); },
               {"arange", "integer range", "2^53"});
  expect_error([] { (void)arange(0, uint64_t{1} << 63); }, {"arange", "2^53"});
  // an integer arange truncates start, end and step first, as torch's
  CHECK(arange(0, 5.5, 1, kInt64).to_vector<int64_t>() == std::vector<int64_t>{0, 1, 2, 3, 4});
  CHECK(arange(0.5, 5, 1, kInt64).to_vector<int64_t>() == std::vector<int64_t>{0, 1, 2, 3, 4});
  CHECK(arange(0, 10, 2.5, kInt64).to_vector<int64_t>() == std::vector<int64_t>{0, 2, 4, 6, 8});
  expect_error([] { (void)arange(0, 3, 0.5, kInt64); }, {"arange", "step", "nonzero", "int64"});
  expect_error([] { (void)arange(0, INFINITY, 1); }, {"arange", "unsupported range", "inf"});
  expect_error([] { (void)arange(0, 1e30, 1); }, {"arange", "too many"});
}

TEST_CASE("tensor: randperm is 0 .. n-1 in an order the default generator decides") {
  manual_seed(5);
  const Tensor p = randperm(1000);
  CHECK(p.dtype() == kInt64);
  CHECK(p.sizes() == Shape{1000});
  std::vector<int64_t> order = p.to_vector<int64_t>();
  const std::vector<int64_t> first = order;
  std::sort(order.begin(), order.end());
  CHECK(order == arange(1000).to_vector<int64_t>());
  CHECK(first != order);  // shuffled (1000! orders, one of them sorted)
  const uint64_t offset = default_generator().offset();
  CHECK(randperm(1000).to_vector<int64_t>() != first);  // the stream moved on...
  CHECK(default_generator().offset() == offset + random::blocks_randint(1000));
  manual_seed(5);
  CHECK(randperm(1000).to_vector<int64_t>() == first);  // ...and a seed replays it
  // the same order as random::fill_permutation from the generator's state
  manual_seed(9);
  std::vector<int64_t> filled(50);
  random::fill_permutation(filled.data(), 50, default_generator().seed(), 0);
  CHECK(randperm(50).to_vector<int64_t>() == filled);
  CHECK(randperm(0).numel() == 0);
  CHECK(randperm(1).to_vector<int64_t>() == std::vector<int64_t>{0});
  std::vector<float> as_float = randperm(6, kFloat32).to_vector<float>();
  std::sort(as_float.begin(), as_float.end());
  CHECK(as_float == std::vector<float>{0, 1, 2, 3, 4, 5});
  CHECK(randperm(2049, kFloat16).numel() == 2049);  // 2048 is float16's last exact integer
  expect_error([] { (void)randperm(2050, kFloat16); }, {"randperm", "n = 2050", "float16"});
  expect_error([] { (void)randperm(-1); }, {"randperm", "n >= 0", "-1"});
#ifndef __SANITIZE_ADDRESS__  // (ASan aborts on an allocation this size instead of failing it)
  // more memory than there is: an error that names randperm, and the stream has not moved
  manual_seed(7);
  expect_error([] { (void)randperm(int64_t{1} << 50); }, {"randperm(1125899906842624)"});
  const std::vector<int64_t> after = randperm(10).to_vector<int64_t>();
  manual_seed(7);
  CHECK(randperm(10).to_vector<int64_t>() == after);
#endif
}

TEST_CASE("tensor: linspace includes both ends exactly, as torch.linspace") {
  CHECK(values(linspace(0, 1, 5)) == std::vector<double>{0, 0.25, 0.5, 0.75, 1});
  CHECK(linspace(0, 1, 5).dtype() == kFloat32);
  CHECK(linspace(-1, 1, 4, kFloat64).to_vector<double>() ==
        std::vector<double>{-1, -1 + 2.0 / 3, 1 - 2.0 / 3, 1});
  // 0.1 * 9 is not 0.9 in binary: counting down from the end keeps the last value exact
  const std::vector<double> tenths = linspace(0, 0.9, 10, kFloat64).to_vector<double>();
  CHECK(tenths.front() == 0.0);
  CHECK(tenths.back() == 0.9);
  CHECK(linspace(3, 7, 1).to_vector<float>() == std::vector<float>{3});  // one step: start
  CHECK(linspace(3, 7, 0).numel() == 0);
  CHECK(linspace(0, 8, 3, kInt64).to_vector<int64_t>() == std::vector<int64_t>{0, 4, 8});
  expect_error([] { (void)linspace(0, 1, -1); }, {"linspace", "steps", "-1"});
  expect_error([] { (void)linspace(0, NAN, 3); }, {"linspace", "unsupported range"});
}

// t[i] is select(0, i): a view, so its data is written with copy_ or fill_, and assigning to it
// (a temporary) does not compile instead of silently rebinding the temporary.
static_assert(std::is_assignable_v<Tensor&, const Tensor&>);
static_assert(!std::is_assignable_v<Tensor&&, const Tensor&>);
static_assert(!std::is_assignable_v<Tensor, Tensor>);

TEST_CASE("tensor: t[i] is a view of row i") {
  Tensor x = zeros({3, 2});
  x[1].fill_(5.0);
  x[-1].copy_(from_vector<float>({7, 8}));
  CHECK(values(x) == std::vector<double>{0, 0, 5, 5, 7, 8});
  CHECK(x[2][1].item<float>() == 8.0f);
  expect_error([&] { (void)x[3]; }, {"select", "index 3", "out of range"});
}

TEST_CASE("tensor: a shape prints as [2, 3]") {
  std::ostringstream out;
  out << zeros({2, 3}).sizes() << ' ' << Shape{} << ' ' << Shape{0, 1};
  CHECK(out.str() == "[2, 3] [] [0, 1]");
}

TEST_CASE("tensor: eye, as torch.eye") {
  CHECK(values(eye(2)) == std::vector<double>{1, 0, 0, 1});
  CHECK(eye(2).dtype() == kFloat32);
  CHECK(eye(2, 3, kBFloat16).sizes() == Shape{2, 3});
  CHECK(values(eye(2, 3, kBFloat16)) == std::vector<double>{1, 0, 0, 0, 1, 0});
  CHECK(eye(3, 1, kInt64).to_vector<int64_t>() == std::vector<int64_t>{1, 0, 0});
  CHECK(eye(0).numel() == 0);
  expect_error([] { (void)eye(-2); }, {"eye", "negative size", "[-2, -2]"});
}

TEST_CASE("tensor: rand, randint and full keep to their dtype's range, as torch") {
  manual_seed(0);
  for (DType dtype : {kFloat16, kBFloat16}) {  // [0, 1): never rounded up to 1
    CAPTURE(dtype);
    const std::vector<float> u = rand({1 << 20}, dtype).to_vector<float>();
    CHECK(*std::max_element(u.begin(), u.end()) < 1.0f);
  }
  CHECK(randint(0, 10, {3}, Device(kCPU)).dtype() == kInt64);  // no dtype given: int64
  expect_error([] { (void)randint(0, 300, {4}, kUInt8); }, {"randint", "uint8", "[0, 255]"});
  expect_error([] { (void)randint(-5, 5, {4}, kUInt8); }, {"randint", "out of bounds"});
  expect_error([] { (void)randint(0, 1 << 20, {4}, kFloat16); }, {"randint", "float16"});
  expect_error([] { (void)full({2}, -1, kUInt8); }, {"full", "-1", "uint8", "overflow"});
  expect_error([] { (void)zeros({2}, kInt64).fill_(NAN); }, {"fill_", "int64"});
  expect_error([] { (void)zeros({2}, kInt64).fill_(1e30); }, {"fill_", "int64"});
  CHECK(full({2}, 255, kUInt8).to_vector<int64_t>() == std::vector<int64_t>{255, 255});
  CHECK(full({1}, 2.7, kInt64).item<int64_t>() == 2);  // a fraction truncates, as torch
}

TEST_CASE("tensor: to(DType) converts between all dtypes") {
  Tensor x = from_vector(std::vector<double>{-1.5, 0.0, 2.25, 3.0});
  for (DType d : {kFloat32, kFloat16, kBFloat16, kFloat64}) CHECK(values(x.to(d)) == values(x));
  CHECK(x.to(kInt64).to_vector<int64_t>() == std::vector<int64_t>{-1, 0, 2, 3});
  CHECK(x.to(kBool).to_vector<bool>() == std::vector<bool>{true, false, true, true});
  CHECK(values(x.to(kBool).to(kFloat32)) == std::vector<double>{1, 0, 1, 1});
  // out of range saturates (PyTorch's CPU wraps 300 to 44, its GPU saturates: undefined in C++)
  CHECK(values(from_vector(std::vector<double>{300.0}).to(kUInt8)) == std::vector<double>{255});
  // bf16 keeps 8 bits of mantissa: 1 + 2^-8 ties to 1
  CHECK(from_vector(std::vector<float>{1.00390625f}).to(kBFloat16).item<float>() == 1.0f);
}

TEST_CASE("tensor: views share storage and bump the shared version") {
  Tensor x = arange(6).reshape({2, 3});
  Tensor t = x.transpose(0, 1);
  CHECK(t.sizes() == Shape{3, 2});
  CHECK(t.strides() == Shape{1, 3});
  CHECK_FALSE(t.is_contiguous());
  CHECK(t.storage() == x.storage());
  CHECK(values(t) == std::vector<double>{0, 3, 1, 4, 2, 5});
  const uint64_t before = x.version();
  t.fill_(7.0);
  CHECK(x.version() == before + 1);
  CHECK(t.version() == x.version());
  CHECK(values(x) == std::vector<double>(6, 7.0));
}

TEST_CASE("tensor: view, reshape, flatten, squeeze, unsqueeze, permute") {
  Tensor x = arange(24).reshape({2, 3, 4});
  CHECK(x.view({6, -1}).sizes() == Shape{6, 4});
  CHECK(x.flatten().sizes() == Shape{24});
  CHECK(x.flatten(1).sizes() == Shape{2, 12});
  CHECK(x.unsqueeze(0).sizes() == Shape{1, 2, 3, 4});
  CHECK(x.unsqueeze(-1).sizes() == Shape{2, 3, 4, 1});
  CHECK(x.unsqueeze(1).squeeze().sizes() == Shape{2, 3, 4});
  CHECK(x.unsqueeze(1).squeeze(1).sizes() == Shape{2, 3, 4});
  Tensor p = x.permute({2, 0, 1});
  CHECK(p.sizes() == Shape{4, 2, 3});
  CHECK(p.select(0, 1).select(0, 1).to_vector<int64_t>() == std::vector<int64_t>{13, 17, 21});
  // reshape of a non-viewable layout copies; view refuses
  CHECK(values(p.reshape({-1})).size() == 24);
  CHECK(p.reshape({-1}).storage() != x.storage());
  expect_error([&] { (void)p.view({24}); }, {"view", "[4, 2, 3]", "reshape"});
  expect_error([&] { (void)x.view({5, 5}); }, {"view", "[5, 5]", "[2, 3, 4]"});
  expect_error([&] { (void)x.view({-1, -1}); }, {"only one dimension can be -1"});
}

TEST_CASE("tensor: slice, narrow, select and expand") {
  Tensor x = arange(10);
  CHECK(values(x.slice(0, 2, 8, 3)) == std::vector<double>{2, 5});
  CHECK(values(x.slice(0, -3, 10)) == std::vector<double>{7, 8, 9});
  CHECK(values(x.narrow(0, 1, 2)) == std::vector<double>{1, 2});
  Tensor m = arange(6).reshape({2, 3});
  CHECK(values(m.select(1, -1)) == std::vector<double>{2, 5});
  Tensor e = from_vector(std::vector<float>{1, 2}).reshape({2, 1}).expand({2, 3});
  CHECK(e.strides() == Shape{1, 0});
  CHECK(values(e) == std::vector<double>{1, 1, 1, 2, 2, 2});
  expect_error([&] { (void)x.narrow(0, 8, 5); }, {"narrow", "out of range", "[10] int64"});
  expect_error([&] { (void)m.expand({3, 3}); }, {"expand", "[2, 3]", "[3, 3]"});
  expect_error([&] { (void)m.select(0, 2); }, {"select", "index 2", "[2, 3]"});
}

TEST_CASE("tensor: contiguous and clone copy, detach shares storage without grad") {
  Tensor x = arange(6).reshape({2, 3}).t();
  Tensor c = x.contiguous();
  CHECK(c.is_contiguous());
  CHECK(values(c) == values(x));
  CHECK(c.storage() != x.storage());
  Tensor y = ones({2}).requires_grad_();
  Tensor d = y.detach();
  CHECK(d.storage() == y.storage());
  CHECK_FALSE(d.requires_grad());
  Tensor cl = y.clone();
  CHECK(cl.storage() != y.storage());
}

TEST_CASE("tensor: item and to_vector convert, item needs one element") {
  CHECK(full({1}, 2.5).item<double>() == 2.5);
  CHECK(full({}, 7.0, kInt64).item<int64_t>() == 7);
  CHECK(full({1, 1}, 1.5, kFloat16).item<Half>().bits == Half(1.5f).bits);
  expect_error([] { (void)zeros({2}).item<float>(); }, {"item", "one element", "[2] float32"});
  expect_error([] { (void)zeros({2}).data<double>(); }, {"data<float64>", "[2] float32"});
}

TEST_CASE("tensor: printing shows values, shape and dtype like PyTorch") {
  std::ostringstream out;
  out << from_vector(std::vector<float>{1.0f, 2.5f, -3.0f, 4.0f}, {2, 2}, kFloat16);
  CHECK(out.str() ==
        "tensor([[ 1.0000,  2.5000],\n        [-3.0000,  4.0000]], shape=[2, 2], dtype=float16)");
  std::ostringstream ints;
  ints << arange(3, kInt64);
  CHECK(ints.str() == "tensor([0, 1, 2], shape=[3], dtype=int64)");
  std::ostringstream whole;
  whole << ones({2});
  CHECK(whole.str() == "tensor([1., 1.], shape=[2], dtype=float32)");
  std::ostringstream big;
  big << arange(2000);
  CHECK(big.str().find("...") != std::string::npos);
  std::ostringstream special;
  special << from_vector(std::vector<float>{INFINITY, NAN, 1.5f});
  CHECK(special.str() == "tensor([   inf,    nan, 1.5000], shape=[3], dtype=float32)");
  std::ostringstream scalar;
  scalar << scalar_tensor(0.5);
  CHECK(scalar.str() == "tensor(0.5000, shape=[], dtype=float32)");
}

TEST_CASE("tensor: printing switches to scientific notation where PyTorch does") {
  const auto text = [](std::vector<float> v) {
    std::ostringstream out;
    out << from_vector(v);
    return out.str();
  };
  // nonzero values spanning more than 1000x, or past 1e8, or fractions below 1e-4
  CHECK(text({1, 2000}) == "tensor([1.0000e+00, 2.0000e+03], shape=[2], dtype=float32)");
  CHECK(text({1, 999}) == "tensor([  1., 999.], shape=[2], dtype=float32)");
  CHECK(text({0, 1e8f}) == "tensor([        0., 100000000.], shape=[2], dtype=float32)");
  CHECK(text({0.5f, 600}) == "tensor([5.0000e-01, 6.0000e+02], shape=[2], dtype=float32)");
  CHECK(text({1e-5f, 1}) == "tensor([1.0000e-05, 1.0000e+00], shape=[2], dtype=float32)");
}

TEST_CASE("tensor: bad shapes and dims raise hg::Error with op, shape and dtype") {
  Tensor x = zeros({2, 3}, kFloat16);
  expect_error([&] { (void)x.transpose(0, 2); }, {"transpose", "dimension 2", "2 dims"});
  expect_error([&] { (void)x.size(5); }, {"size", "dimension 5"});
  expect_error([&] { (void)x.permute({0, 0}); }, {"permute", "repeats", "[2, 3] float16"});
  expect_error([&] { (void)x.flatten(1, 0); }, {"flatten", "[2, 3] float16"});
  expect_error([] { (void)zeros({-1}); }, {"zeros: negative size", "[-1]"});
  expect_error([] { (void)rand({2, -3}); }, {"rand: negative size", "[2, -3]"});
  expect_error([] { (void)zeros({1, 1, 1, 1, 1, 1, 1, 1, 1}); }, {"more than 8 dims"});
  expect_error([] { (void)Tensor().sizes(); }, {"undefined tensor"});
}
