#include "halfgrad/data/transforms.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "halfgrad/core/error.h"
#include "halfgrad/core/factories.h"

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

// A size x size window of image b whose first row and column are the source's dy and dx.
struct Window {
  int64_t b, dy, dx, size;
};

// out's image b = the window of src's image b, zero outside the image.
void crop_zero_padded(const Tensor& src, const Window& w, Tensor& out) {
  const int64_t C = src.size(1), H = src.size(2), W = src.size(3), n = w.size;
  float* dst = out.data<float>() + w.b * C * n * n;
  std::fill(dst, dst + C * n * n, 0.f);
  const int64_t x_begin = std::max<int64_t>(0, -w.dx), x_end = std::min(n, W - w.dx);
  if (x_begin >= x_end) return;
  for (int64_t c = 0; c < C; ++c) {
    for (int64_t y = std::max<int64_t>(0, -w.dy); y < std::min(n, H - w.dy); ++y) {
      const float* row = src.data<float>() + ((w.b * C + c) * H + y + w.dy) * W;
      std::memcpy(dst + (c * n + y) * n + x_begin, row + (x_begin + w.dx),
                  static_cast<size_t>(x_end - x_begin) * sizeof(float));
    }
  }
}

// A coordinate of an axis of extent `extent` padded by reflection, mapped into the image
// (-1 -> 1, extent -> extent - 2); t lies within the padding, which is smaller than extent.
int64_t reflect(int64_t t, int64_t extent) {
  if (t < 0) return -t;
  return t >= extent ? 2 * (extent - 1) - t : t;
}

// out's image b = the window of src's image b padded by reflection.
void crop_reflected(const Tensor& src, const Window& w, Tensor& out) {
  const int64_t C = src.size(1), H = src.size(2), W = src.size(3), n = w.size;
  std::vector<int64_t> columns(static_cast<size_t>(n));
  for (int64_t x = 0; x < n; ++x) columns[static_cast<size_t>(x)] = reflect(x + w.dx, W);
  float* dst = out.data<float>() + w.b * C * n * n;
  for (int64_t c = 0; c < C; ++c) {
    for (int64_t y = 0; y < n; ++y) {
      const float* row = src.data<float>() + ((w.b * C + c) * H + reflect(y + w.dy, H)) * W;
      float* out_row = dst + (c * n + y) * n;
      for (int64_t x = 0; x < n; ++x) out_row[x] = row[columns[static_cast<size_t>(x)]];
    }
  }
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

Transform random_crop(int64_t size, int64_t padding, Padding mode) {
  HG_CHECK(size > 0 && padding >= 0, "random_crop: expected size > 0 and padding >= 0, got size ",
           size, ", padding ", padding);
  return [size, padding, mode](const Tensor& batch, Generator& gen) {
    check_batch("random_crop", batch);
    const int64_t B = batch.size(0), H = batch.size(2), W = batch.size(3);
    HG_CHECK(size <= H + 2 * padding && size <= W + 2 * padding, "random_crop: a ", size, "x", size,
             " crop does not fit ", H, "x", W, " images padded by ", padding);
    HG_CHECK(mode == Padding::Zeros || (padding < H && padding < W), "random_crop: ", H, "x", W,
             " images cannot be reflected by ", padding, " (the padding must be smaller)");
    // Offsets of the window in the padded image: y0 in [0, H + 2p - size], x0 likewise.
    const std::vector<int64_t> ys = draw_ints(gen, B, H + 2 * padding - size + 1);
    const std::vector<int64_t> xs = draw_ints(gen, B, W + 2 * padding - size + 1);
    Tensor out = empty({B, batch.size(1), size, size}, kFloat32);
    for (int64_t b = 0; b < B; ++b) {
      // the source row and column of the window's first: may be outside the image
      const Window window{b, ys[static_cast<size_t>(b)] - padding,
                          xs[static_cast<size_t>(b)] - padding, size};
      if (mode == Padding::Zeros)
        crop_zero_padded(batch, window, out);
      else
        crop_reflected(batch, window, out);
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

Transform cutout(int64_t size, float value) {
  HG_CHECK(size > 0, "cutout: expected size > 0, got ", size);
  return [size, value](const Tensor& batch, Generator& gen) {
    check_batch("cutout", batch);
    const int64_t B = batch.size(0), C = batch.size(1), H = batch.size(2), W = batch.size(3);
    HG_CHECK(size <= H && size <= W, "cutout: a ", size, "x", size, " square does not fit ", H, "x",
             W, " images");
    // the square's first row and column: y0 in [0, H - size], x0 likewise
    const std::vector<int64_t> ys = draw_ints(gen, B, H - size + 1);
    const std::vector<int64_t> xs = draw_ints(gen, B, W - size + 1);
    Tensor out = copy_batch(batch);
    for (int64_t b = 0; b < B; ++b) {
      const int64_t y0 = ys[static_cast<size_t>(b)], x0 = xs[static_cast<size_t>(b)];
      for (int64_t c = 0; c < C; ++c) {
        for (int64_t y = y0; y < y0 + size; ++y) {
          float* row = out.data<float>() + ((b * C + c) * H + y) * W;
          std::fill(row + x0, row + x0 + size, value);
        }
      }
    }
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
