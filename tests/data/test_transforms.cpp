// data::cutout (the other transforms are tested beside the DataLoader, test_dataloader.cpp).
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "halfgrad/data/transforms.h"
#include "test_util.h"

using hg::test::expect_error;

namespace {

// The first row and column of the square where image b of `out` holds `value` and `src` does
// not, in every channel alike, with every other value of the image unchanged; or nothing.
std::optional<std::pair<int64_t, int64_t>> cutout_square(const std::vector<float>& out,
                                                         const std::vector<float>& src,
                                                         const hg::Shape& shape, int64_t b,
                                                         int64_t size, float value) {
  const int64_t C = shape[1], H = shape[2], W = shape[3];
  std::optional<std::pair<int64_t, int64_t>> found;
  for (int64_t y0 = 0; y0 + size <= H; ++y0) {
    for (int64_t x0 = 0; x0 + size <= W; ++x0) {
      bool match = true;
      for (int64_t c = 0; c < C; ++c) {
        for (int64_t y = 0; y < H; ++y) {
          for (int64_t x = 0; x < W; ++x) {
            const auto i = static_cast<size_t>(((b * C + c) * H + y) * W + x);
            const bool inside = y >= y0 && y < y0 + size && x >= x0 && x < x0 + size;
            match = match && out[i] == (inside ? value : src[i]);
          }
        }
      }
      if (match) found = std::make_pair(y0, x0);
    }
  }
  return found;
}

}  // namespace

TEST_CASE("cutout sets a square wholly inside each image to the value, at a random place") {
  const hg::Shape shape{3, 2, 6, 5};
  const hg::Tensor x = hg::arange(3 * 2 * 6 * 5, hg::kFloat32).view(shape) + 1.0;
  const std::vector<float> xv = x.to_vector<float>();
  hg::Generator gen(11);
  std::set<std::pair<int64_t, int64_t>> corners;
  for (int trial = 0; trial < 30; ++trial) {
    const hg::Tensor out = hg::data::cutout(3)(x, gen);
    REQUIRE(out.sizes() == shape);
    const std::vector<float> ov = out.to_vector<float>();
    for (int64_t b = 0; b < 3; ++b) {
      const auto corner = cutout_square(ov, xv, shape, b, 3, 0.f);
      CHECK_MESSAGE(corner.has_value(), "trial " << trial << ", image " << b << ": no 3x3 square");
      if (corner) corners.insert(*corner);
    }
  }
  CHECK(corners.size() == 12);        // (6 - 3 + 1) x (5 - 3 + 1) places, 90 draws: all of them
  CHECK(x.to_vector<float>() == xv);  // the input batch is left alone
}

TEST_CASE("cutout: the value, the whole image, reproducible draws, bad arguments") {
  const hg::Shape shape{2, 3, 4, 4};
  const hg::Tensor x = hg::ones(shape);
  const std::vector<float> xv = x.to_vector<float>();
  hg::Generator gen(3);
  const std::vector<float> whole = hg::data::cutout(4, -7.f)(x, gen).to_vector<float>();
  CHECK(whole == std::vector<float>(xv.size(), -7.f));
  const std::vector<float> square = hg::data::cutout(2, 0.5f)(x, gen).to_vector<float>();
  for (int64_t b = 0; b < 2; ++b) CHECK(cutout_square(square, xv, shape, b, 2, 0.5f).has_value());

  hg::Generator first(99), second(99);
  const hg::Tensor ramp = hg::arange(2 * 3 * 4 * 4, hg::kFloat32).view(shape);
  CHECK(hg::data::cutout(2)(ramp, first).to_vector<float>() ==
        hg::data::cutout(2)(ramp, second).to_vector<float>());

  expect_error([] { hg::data::cutout(0); }, {"cutout", "size > 0", "0"});
  expect_error([&] { hg::data::cutout(5)(x, gen); }, {"cutout", "5x5", "4x4"});
  expect_error([&] { hg::data::cutout(2)(hg::zeros({2, 3}), gen); }, {"cutout", "[2, 3]"});
  expect_error([&] { hg::data::cutout(2)(hg::zeros(shape, hg::kFloat64), gen); },
               {"cutout", "float32"});
}
