#include "data/transforms.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "core/error.h"
#include "core/factories.h"

namespace hg::data {
namespace {

void check_batch(const char* op, const Tensor& batch) {
  HG_CHECK(batch.defined() && batch.dtype() == kFloat32 && batch.dim() == 4 &&
               batch.is_contiguous() && batch.device().is_cpu(),
           op, ": expected a contiguous float32 CPU batch [B, C, H, W], got ",
           batch.defined() ? describe(batch) : std::string("an undefined tensor"));
}

// n integers in [0, high) from gen (one reservation, so the draw is a pure function of gen's
// state before the call).
std::vector<int64_t> draw_ints(Generator& gen, int64_t n, int64_t high) {
  std::vector<int64_t> out(static_cast<size_t>(n));
  if (n == 0) return out;
  const Generator::State st = gen.reserve_state(random::blocks_randint(n));
  random::fill_randint(out.data(), n, 0, high, st.seed, st.offset);
  return out;
}

std::vector<float> draw_uniform(Generator& gen, int64_t n) {
  std::vector<float> out(static_cast<size_t>(n));
  if (n == 0) return out;
  const Generator::State st = gen.reserve_state(random::blocks_uniform_f32(n));
  random::fill_uniform(out.data(), n, 0.f, 1.f, st.seed, st.offset);
  return out;
}

// Reverses the rows of image b of a [B, C, H, W] buffer in place.
void mirror_image(float* data, int64_t b, int64_t C, int64_t H, int64_t W) {
  for (int64_t row = 0; row < C * H; ++row) {
    float* r = data + (b * C * H + row) * W;
    std::reverse(r, r + W);
  }
}

Tensor copy_batch(const Tensor& batch) {
  Tensor out = empty(batch.sizes(), kFloat32);
  std::memcpy(out.data<float>(), batch.data<float>(),
              static_cast<size_t>(batch.numel()) * sizeof(float));
  return out;
}

}  // namespace

Transform normalize(std::vector<float> mean, std::vector<float> std) {
  HG_CHECK(!mean.empty() && mean.size() == std.size(), "normalize: expected as many means as ",
           "standard deviations (at least one), got ", mean.size(), " and ", std.size());
  for (float s : std)
    HG_CHECK(s > 0.f, "normalize: expected positive standard deviations, got ", s);
  return [mean = std::move(mean), std = std::move(std)](const Tensor& batch, Generator&) {
    check_batch("normalize", batch);
    const int64_t B = batch.size(0), C = batch.size(1), HW = batch.size(2) * batch.size(3);
    const auto k = static_cast<int64_t>(mean.size());
    HG_CHECK(k == 1 || k == C, "normalize: ", k, " means and standard deviations for a batch ",
             "with ", C, " channels, ", describe(batch));
    Tensor out = empty(batch.sizes(), kFloat32);
    const float* src = batch.data<float>();
    float* dst = out.data<float>();
    for (int64_t b = 0; b < B; ++b) {
      for (int64_t c = 0; c < C; ++c) {
        const float m = mean[static_cast<size_t>(k == 1 ? 0 : c)];
        const float s = std[static_cast<size_t>(k == 1 ? 0 : c)];
        const int64_t base = (b * C + c) * HW;
        // divided, as torchvision's Normalize (a product with 1 / s differs by an ulp at times)
        for (int64_t i = 0; i < HW; ++i) dst[base + i] = (src[base + i] - m) / s;
      }
    }
    return out;
  };
}

Transform random_crop(int64_t size, int64_t padding) {
  HG_CHECK(size > 0 && padding >= 0, "random_crop: expected size > 0 and padding >= 0, got size ",
           size, ", padding ", padding);
  return [size, padding](const Tensor& batch, Generator& gen) {
    check_batch("random_crop", batch);
    const int64_t B = batch.size(0), C = batch.size(1), H = batch.size(2), W = batch.size(3);
    HG_CHECK(size <= H + 2 * padding && size <= W + 2 * padding, "random_crop: a ", size, "x", size,
             " crop does not fit ", H, "x", W, " images padded by ", padding);
    // Offsets of the window in the padded image: y0 in [0, H + 2p - size], x0 likewise.
    const std::vector<int64_t> ys = draw_ints(gen, B, H + 2 * padding - size + 1);
    const std::vector<int64_t> xs = draw_ints(gen, B, W + 2 * padding - size + 1);
    Tensor out = empty({B, C, size, size}, kFloat32);
    const float* src = batch.data<float>();
    float* dst = out.data<float>();
    std::fill(dst, dst + out.numel(), 0.f);
    for (int64_t b = 0; b < B; ++b) {
      const int64_t dy = ys[static_cast<size_t>(b)] - padding;  // source row of output row 0
      const int64_t dx = xs[static_cast<size_t>(b)] - padding;
      const int64_t x_begin = std::max<int64_t>(0, -dx), x_end = std::min(size, W - dx);
      for (int64_t c = 0; c < C; ++c) {
        for (int64_t y = std::max<int64_t>(0, -dy); y < std::min(size, H - dy); ++y) {
          if (x_begin >= x_end) break;
          const float* row = src + ((b * C + c) * H + y + dy) * W;
          float* out_row = dst + ((b * C + c) * size + y) * size;
          std::memcpy(out_row + x_begin, row + (x_begin + dx),
                      static_cast<size_t>(x_end - x_begin) * sizeof(float));
        }
      }
    }
    return out;
  };
}

Transform random_horizontal_flip(double p) {
  HG_CHECK(p >= 0.0 && p <= 1.0, "random_horizontal_flip: expected p in [0, 1], got ", p);
  return [p](const Tensor& batch, Generator& gen) {
    check_batch("random_horizontal_flip", batch);
    const int64_t B = batch.size(0), C = batch.size(1), H = batch.size(2), W = batch.size(3);
    const std::vector<float> u = draw_uniform(gen, B);
    Tensor out = copy_batch(batch);
    for (int64_t b = 0; b < B; ++b)
      if (u[static_cast<size_t>(b)] < p) mirror_image(out.data<float>(), b, C, H, W);
    return out;
  };
}

Tensor horizontal_flip(const Tensor& batch) {
  check_batch("horizontal_flip", batch);
  Tensor out = copy_batch(batch);
  for (int64_t b = 0; b < batch.size(0); ++b)
    mirror_image(out.data<float>(), b, batch.size(1), batch.size(2), batch.size(3));
  return out;
}

}  // namespace hg::data
