// Dataset, transforms and DataLoader: shapes, order, reproducibility, the background thread.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <optional>
#include <set>
#include <thread>

#include "dataloader_util.h"

TEST_CASE("Dataset gathers uint8 images as float32 [B, 1, H, W] in [0, 1]") {
  const hg::Tensor images =
      hg::from_vector(std::vector<uint8_t>{0, 255, 51, 102, 1, 2, 3, 4}, {2, 2, 2}, hg::kUInt8);
  const Dataset ds(images, hg::from_vector(std::vector<uint8_t>{4, 7}, {2}, hg::kUInt8));
  CHECK(ds.size() == 2);
  CHECK(ds.sample_shape() == hg::Shape{1, 2, 2});
  const Batch b = ds.get_batch({1, 0, 1});
  CHECK(b.data.dtype() == hg::kFloat32);
  CHECK(b.data.sizes() == hg::Shape{3, 1, 2, 2});
  CHECK(b.target.dtype() == hg::kInt64);
  CHECK(b.target.to_vector<int64_t>() == std::vector<int64_t>{7, 4, 7});
  const std::vector<float> v = b.data.to_vector<float>();
  CHECK(v[0] == 1.f / 255.f);
  CHECK(v[4] == 0.f);
  CHECK(v[5] == 1.f);
  CHECK(v[6] == 51.f / 255.f);
  expect_error([&] { ds.get_batch({0, 2}); }, {"get_batch", "index 2", "2 samples"});
  expect_error([&] { Dataset(images, hg::zeros({3}, hg::kInt64)); },
               {"Dataset", "[2, 2, 2]", "[3]"});
  expect_error([&] { Dataset(images, hg::zeros({2})); }, {"Dataset", "integer labels"});
}

TEST_CASE("DataLoader batch shapes, size() and drop_last") {
  DataLoader loader(indexed(10), {.batch_size = 4, .prefetch = 2});
  CHECK(loader.size() == 3);
  std::vector<int64_t> sizes;
  for (auto& batch : loader) {
    CHECK(batch.data.sizes() == hg::Shape{batch.target.size(0), 1, 2, 2});
    sizes.push_back(batch.target.size(0));
  }
  CHECK(sizes == std::vector<int64_t>{4, 4, 2});
  CHECK(targets(loader) == std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});  // no shuffle

  DataLoader dropping(indexed(10), {.batch_size = 4, .drop_last = true});
  CHECK(dropping.size() == 2);
  CHECK(one_pass(dropping).size() == 2);
  DataLoader empty_loader(indexed(3), {.batch_size = 4, .drop_last = true});
  CHECK(empty_loader.size() == 0);
  CHECK(empty_loader.begin() == empty_loader.end());
  expect_error([] { DataLoader(indexed(3), {.batch_size = 0}); }, {"DataLoader", "batch_size"});
}

TEST_CASE("a shuffled pass sees every sample exactly once, data matching its label") {
  for (int64_t prefetch : {0, 1, 3}) {
    DataLoader loader(indexed(103),
                      {.batch_size = 8, .shuffle = true, .seed = 5, .prefetch = prefetch});
    for (int epoch = 0; epoch < 2; ++epoch) {
      std::multiset<int64_t> seen;
      for (const auto& [data, target] : one_pass(loader)) {
        for (size_t i = 0; i < target.size(); ++i) {
          CHECK(data[4 * i] == static_cast<float>(target[i]));
          seen.insert(target[i]);
        }
      }
      CHECK(seen.size() == 103u);
      CHECK(std::set<int64_t>(seen.begin(), seen.end()).size() == 103u);
    }
  }
}

TEST_CASE("the shuffle order is a function of (seed, epoch)") {
  auto order = [](uint64_t seed, int64_t epoch, int64_t prefetch) {
    DataLoader loader(indexed(50),
                      {.batch_size = 7, .shuffle = true, .seed = seed, .prefetch = prefetch});
    loader.set_epoch(epoch);
    return targets(loader);
  };
  const std::vector<int64_t> base = order(1, 0, 2);
  std::vector<int64_t> identity(50);
  for (int64_t i = 0; i < 50; ++i) identity[static_cast<size_t>(i)] = i;
  CHECK(base != identity);
  CHECK(order(1, 0, 0) == base);  // prefetching does not change anything
  CHECK(order(1, 0, 5) == base);
  CHECK(order(1, 1, 2) != base);
  CHECK(order(2, 0, 2) != base);
  CHECK(base == hg::data::sample_order(50, true, 1, 0));
  CHECK(hg::data::sample_order(50, false, 1, 3) == identity);

  hg::manual_seed(123);  // the default generator plays no part
  CHECK(order(1, 0, 2) == base);

  // Each pass advances the epoch; set_epoch replays one.
  DataLoader loader(indexed(50), {.batch_size = 7, .shuffle = true, .seed = 1});
  CHECK(targets(loader) == base);
  CHECK(loader.epoch() == 1);
  CHECK(targets(loader) == order(1, 1, 2));
  loader.set_epoch(0);
  CHECK(targets(loader) == base);
}

namespace {

// Value (b, c, y, x) of a float32 [B, 3, H, W] batch held as a vector.
float at(const std::vector<float>& v, int64_t b, int64_t c, int64_t y, int64_t x, int64_t H,
         int64_t W) {
  return v[static_cast<size_t>(((b * 3 + c) * H + y) * W + x)];
}

// The offset (oy, ox) at which image b of `crop` [B, 3, 4, 4] is a window of image b of
// `src` [B, 3, 6, 5] zero-padded by 2 (the same offset for every channel), or nothing.
std::optional<std::pair<int64_t, int64_t>> window_offset(const std::vector<float>& crop,
                                                         const std::vector<float>& src, int64_t b) {
  for (int64_t oy = -2; oy <= 4; ++oy) {
    for (int64_t ox = -2; ox <= 3; ++ox) {
      bool same = true;
      for (int64_t c = 0; c < 3; ++c) {
        for (int64_t y = 0; y < 4; ++y) {
          for (int64_t x = 0; x < 4; ++x) {
            const int64_t sy = y + oy, sx = x + ox;
            const bool pad = sy < 0 || sy >= 6 || sx < 0 || sx >= 5;
            same = same && at(crop, b, c, y, x, 4, 4) == (pad ? 0.f : at(src, b, c, sy, sx, 6, 5));
          }
        }
      }
      if (same) return std::make_pair(oy, ox);
    }
  }
  return std::nullopt;
}

}  // namespace

TEST_CASE("normalize and random_horizontal_flip compute what they say") {
  hg::Generator gen(7);
  const hg::Tensor x = hg::arange(2 * 3 * 6 * 5, hg::kFloat32).view({2, 3, 6, 5}) + 1.0;
  const std::vector<float> xv = x.to_vector<float>();
  const std::vector<float> nv =
      hg::data::normalize({1.f, 2.f, 3.f}, {2.f, 4.f, 0.5f})(x, gen).to_vector<float>();
  CHECK(nv[0] == (xv[0] - 1.f) / 2.f);
  CHECK(at(nv, 1, 2, 5, 4, 6, 5) == (at(xv, 1, 2, 5, 4, 6, 5) - 3.f) * 2.f);
  const std::vector<float> one = hg::data::normalize({0.5f}, {2.f})(x, gen).to_vector<float>();
  CHECK(at(one, 1, 1, 2, 3, 6, 5) == (at(xv, 1, 1, 2, 3, 6, 5) - 0.5f) / 2.f);
  // a division, as torchvision's (x - m) / s, bit for bit (not a product with 1 / s)
  const hg::Tensor pixels = x / 180.0;
  const std::vector<float> pv = pixels.to_vector<float>();
  const std::vector<float> cifar =
      hg::data::normalize({0.4914f}, {0.2470f})(pixels, gen).to_vector<float>();
  for (size_t i = 0; i < pv.size(); ++i) CHECK(cifar[i] == (pv[i] - 0.4914f) / 0.2470f);

  const std::vector<float> flipped =
      hg::data::random_horizontal_flip(1.0)(x, gen).to_vector<float>();
  CHECK(at(flipped, 1, 2, 3, 0, 6, 5) == at(xv, 1, 2, 3, 4, 6, 5));
  CHECK(at(flipped, 0, 0, 0, 1, 6, 5) == at(xv, 0, 0, 0, 3, 6, 5));
  CHECK(hg::data::random_horizontal_flip(0.0)(x, gen).to_vector<float>() == xv);
  int flips = 0;  // p = 0.5: about half of 200 images
  for (int trial = 0; trial < 100; ++trial) {
    const std::vector<float> v = hg::data::random_horizontal_flip()(x, gen).to_vector<float>();
    for (int64_t b = 0; b < 2; ++b) flips += at(v, b, 0, 0, 0, 6, 5) == at(xv, b, 0, 0, 4, 6, 5);
  }
  CHECK(flips > 60);
  CHECK(flips < 140);

  expect_error(
      [&] {
        hg::data::normalize({0.5f, 0.5f}, {1.f, 1.f})(x, gen);
      },
      {"normalize", "2 means", "3 channels"});
  expect_error([] { hg::data::normalize({0.f}, {0.f}); }, {"normalize", "positive"});
}

TEST_CASE("horizontal_flip mirrors every image, and checks its batch") {
  const hg::Tensor x = hg::arange(2 * 3 * 6 * 5, hg::kFloat32).view({2, 3, 6, 5});
  const std::vector<float> xv = x.to_vector<float>();
  const hg::Tensor flipped = hg::data::horizontal_flip(x);
  REQUIRE(flipped.sizes() == x.sizes());
  const std::vector<float> fv = flipped.to_vector<float>();
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t y = 0; y < 6; ++y)
        for (int64_t col = 0; col < 5; ++col)
          CHECK(at(fv, b, c, y, col, 6, 5) == at(xv, b, c, y, 4 - col, 6, 5));
  CHECK(x.to_vector<float>() == xv);  // the input is left alone
  CHECK(hg::data::horizontal_flip(flipped).to_vector<float>() == xv);
  expect_error(
      [] {
        hg::data::horizontal_flip(hg::zeros({2, 3, 4}));
      },
      {"horizontal_flip", "[B, C, H, W]", "[2, 3, 4]"});
}

TEST_CASE("random_crop cuts a window of the zero-padded image at a random offset") {
  hg::Generator gen(7);
  const hg::Tensor x = hg::arange(2 * 3 * 6 * 5, hg::kFloat32).view({2, 3, 6, 5}) + 1.0;
  const std::vector<float> xv = x.to_vector<float>();
  std::set<std::pair<int64_t, int64_t>> offsets;
  for (int trial = 0; trial < 30; ++trial) {
    const hg::Tensor crop = hg::data::random_crop(4, 2)(x, gen);
    REQUIRE(crop.sizes() == hg::Shape{2, 3, 4, 4});
    const std::vector<float> cv = crop.to_vector<float>();
    for (int64_t b = 0; b < 2; ++b) {
      const auto offset = window_offset(cv, xv, b);
      CHECK_MESSAGE(offset.has_value(), "crop " << trial << " of image " << b << " is no window");
      if (offset) offsets.insert(*offset);
    }
  }
  CHECK(offsets.size() > 10);  // 7 x 6 possible offsets
  expect_error([&] { hg::data::random_crop(11, 2)(x, gen); }, {"random_crop", "11x11", "6x5"});
  expect_error(
      [&] {
        hg::data::random_crop(2)(hg::zeros({2, 3}), gen);
      },
      {"random_crop", "[2, 3]"});
}

TEST_CASE("random_crop with Padding::Reflect mirrors the image at its edges, as PyTorch's pad") {
  hg::Generator gen(8);
  using hg::data::Padding;
  // a 7x7 crop of a 3x3 image padded by 2 is the whole padded image: F.pad(x, (2, 2, 2, 2),
  // mode="reflect") of 1..9
  const hg::Tensor nine = hg::arange(9, hg::kFloat32).view({1, 1, 3, 3}) + 1.0;
  const std::vector<float> padded = {9, 8, 7, 8, 9, 8, 7, 6, 5, 4, 5, 6, 5, 4, 3, 2, 1,
                                     2, 3, 2, 1, 6, 5, 4, 5, 6, 5, 4, 9, 8, 7, 8, 9, 8,
                                     7, 6, 5, 4, 5, 6, 5, 4, 3, 2, 1, 2, 3, 2, 1};
  CHECK(hg::data::random_crop(7, 2, Padding::Reflect)(nine, gen).to_vector<float>() == padded);
  // random 3x3 windows of that padded image: every one a window, at many offsets
  std::set<std::vector<float>> windows;
  for (int trial = 0; trial < 40; ++trial) {
    const std::vector<float> w =
        hg::data::random_crop(3, 2, Padding::Reflect)(nine, gen).to_vector<float>();
    bool found = false;
    for (int oy = 0; oy <= 4 && !found; ++oy)
      for (int ox = 0; ox <= 4 && !found; ++ox) {
        std::vector<float> expected;
        for (int y = 0; y < 3; ++y)
          for (int x = 0; x < 3; ++x) expected.push_back(padded[(oy + y) * 7 + ox + x]);
        found = expected == w;
      }
    CHECK(found);
    windows.insert(w);
  }
  CHECK(windows.size() > 10);  // 25 offsets
  expect_error([&] { hg::data::random_crop(3, 3, Padding::Reflect)(nine, gen); },
               {"random_crop", "3x3 images cannot be reflected by 3"});
}

TEST_CASE("augmentation is reproducible from (seed, epoch) and varies across epochs") {
  auto pass = [](uint64_t seed, int64_t epoch, int64_t prefetch) {
    DataLoader loader(images3(9, {hg::data::random_crop(4, 2), hg::data::random_horizontal_flip(),
                                  hg::data::normalize({0.5f}, {2.f})}),
                      {.batch_size = 4, .shuffle = true, .seed = seed, .prefetch = prefetch});
    loader.set_epoch(epoch);
    return one_pass(loader);
  };
  const auto base = pass(3, 0, 2);
  REQUIRE(base.size() == 3u);
  CHECK(base[0].first.size() == 4u * 3 * 4 * 4);
  CHECK(pass(3, 0, 0) == base);
  hg::manual_seed(99);
  CHECK(pass(3, 0, 3) == base);
  CHECK(pass(3, 1, 2) != base);
  CHECK(pass(4, 0, 2) != base);
}

TEST_CASE("destroying a DataLoader mid-pass stops its thread promptly") {
  std::atomic<int> built{0};
  auto slow = [&built](const hg::Tensor& batch, hg::Generator&) {
    ++built;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    return batch;
  };
  const auto start = std::chrono::steady_clock::now();
  {
    DataLoader loader(indexed(400, {slow}), {.batch_size = 2, .prefetch = 4});
    int seen = 0;
    for (auto& batch : loader) {
      CHECK(batch.target.size(0) == 2);
      if (++seen == 3) break;  // 197 batches left
    }
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  CHECK(built.load() <= 3 + 4 + 1);  // consumed + queued + the one in progress
  CHECK(seconds < 0.5);              // building all 200 batches would take >= 1 s
  {
    DataLoader never_iterated(indexed(10), {.batch_size = 2, .prefetch = 4});
    DataLoader begun(indexed(10), {.batch_size = 2, .prefetch = 1});
    auto it = begun.begin();  // the worker now waits on a full queue
    CHECK(it->target.size(0) == 2);
  }
  // A new begin() abandons the pass in progress and restarts.
  DataLoader loader(indexed(10), {.batch_size = 3, .prefetch = 2});
  auto it = loader.begin();
  ++it;
  CHECK(it->target.to_vector<int64_t>() == std::vector<int64_t>{3, 4, 5});
  loader.set_epoch(0);
  CHECK(targets(loader) == std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
}

TEST_CASE("an error while building a batch reaches the loop and the loader stays usable") {
  auto failing = [](const hg::Tensor& batch, hg::Generator&) -> hg::Tensor {
    if (batch.to_vector<float>()[0] >= 6.f) HG_FAIL("boom at sample ", batch.to_vector<float>()[0]);
    return batch;
  };
  for (int64_t prefetch : {0, 2}) {
    DataLoader loader(indexed(10, {failing}), {.batch_size = 3, .prefetch = prefetch});
    int seen = 0;
    expect_error(
        [&] {
          for (auto& batch : loader) seen += static_cast<int>(batch.target.size(0));
        },
        {"boom at sample 6"});
    CHECK(seen == 6);
    expect_error([&] { targets(loader); }, {"boom"});  // a second pass fails the same way
  }
}

TEST_CASE(
    "a loop that catches a batch's error goes on with the next batch, with or without prefetch") {
  // with prefetch, the worker stopped at the failed batch and the next ++ waited forever
  auto failing = [](const hg::Tensor& batch, hg::Generator&) -> hg::Tensor {
    if (batch.to_vector<float>()[0] == 3.f) HG_FAIL("boom");
    return batch;
  };
  for (int64_t prefetch : {0, 2}) {
    CAPTURE(prefetch);
    DataLoader loader(indexed(9, {failing}), {.batch_size = 3, .prefetch = prefetch});
    auto it = loader.begin();
    CHECK_THROWS_AS(++it, hg::Error);  // batch 1 (samples 3..5)
    ++it;
    REQUIRE(it != loader.end());
    CHECK(hg::test::values((*it).target) == std::vector<double>{6, 7, 8});
    ++it;
    CHECK(it == loader.end());
  }
}
