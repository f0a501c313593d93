// kernels/cuda/conv_igemm_tiles.h on the host: a convolution run block by block, stage by stage
// and thread by thread through the implicit-GEMM kernel's own index functions (which weight runs
// and input entries each thread loads, where each result goes) equals a direct convolution, and
// writes every output once. The tensor-core multiply is replaced by plain loops; the header is
// CUDA-free, so this runs in every build and checks the kernel's indexing without a GPU.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "halfgrad/kernels/cuda/conv_igemm_tiles.h"

namespace ig = hg::cuda::igemm;

namespace {

// out = conv(x, w) in double, straight from the definition.
std::vector<double> direct_conv(const ig::ConvDims& d, const std::vector<double>& x,
                                const std::vector<double>& w) {
  const int64_t og = d.cout / d.groups, cg = d.cin / d.groups;
  std::vector<double> out(static_cast<size_t>(d.n * d.cout * d.ho * d.wo), 0.0);
  for (int64_t b = 0; b < d.n; ++b)
    for (int64_t o = 0; o < d.cout; ++o)
      for (int64_t oh = 0; oh < d.ho; ++oh)
        for (int64_t ow = 0; ow < d.wo; ++ow) {
          double sum = 0;
          const int64_t g = o / og;
          for (int64_t c = 0; c < cg; ++c)
            for (int64_t i = 0; i < d.kh; ++i)
              for (int64_t j = 0; j < d.kw; ++j) {
                const int64_t ih = oh * d.sh - d.ph + i * d.dh, iw = ow * d.sw - d.pw + j * d.dw;
                if (ih < 0 || ih >= d.h || iw < 0 || iw >= d.w) continue;
                sum += w[static_cast<size_t>(((o * cg + c) * d.kh + i) * d.kw + j)] *
                       x[static_cast<size_t>(((b * d.cin + g * cg + c) * d.h + ih) * d.w + iw)];
              }
          out[static_cast<size_t>(((b * d.cout + o) * d.ho + oh) * d.wo + ow)] = sum;
        }
  return out;
}

// The W tile's entries thread tid brings in: as 16-byte runs (runs) or one by one.
void load_weights(const ig::Geometry& s, const std::vector<double>& w, int group, int m0, int k0,
                  int tid, bool runs, std::vector<double>& a) {
  if (runs) {
    for (int r = 0; r < ig::kVectorsA; ++r) {
      const int row = ig::a_row(tid, r), col = ig::a_column(tid);
      const int m = m0 + row, k = k0 + col;
      for (int v = 0; v < ig::kVector; ++v)
        a[row * ig::kTileK + col + v] =
            ig::weight_inside(s, m, k) ? w.at(ig::weight_offset(s, group, m, k) + v) : 0.0;
    }
    return;
  }
  for (int r = 0; r < ig::kScalarsA; ++r) {
    const int row = ig::a_scalar_row(tid, r), col = ig::a_scalar_column(tid);
    const int m = m0 + row, k = k0 + col;
    a[row * ig::kTileK + col] =
        ig::weight_inside(s, m, k) ? w.at(ig::weight_offset(s, group, m, k)) : 0.0;
  }
}

// One block of the kernel: the stages it loads (as each thread would), their product, and the
// epilogue's lane-to-output mapping. writes counts how often each output is stored.
void emulate_block(const ig::Geometry& s, const std::vector<double>& x,
                   const std::vector<double>& w, int group, int bx, int by, bool runs,
                   std::vector<double>& out, std::vector<int>& writes) {
  const int m0 = by * ig::kTileM, pix0 = bx * ig::kTileN;
  std::vector<double> acc(ig::kTileM * ig::kTileN, 0.0);
  for (int k0 = 0; k0 < s.kg; k0 += ig::kTileK) {
    std::vector<double> a(ig::kTileM * ig::kTileK, NAN), b(ig::kTileK * ig::kTileN, NAN);
    for (int tid = 0; tid < ig::kThreads; ++tid) {
      load_weights(s, w, group, m0, k0, tid, runs, a);
      const ig::PixelSource px = ig::pixel_source(s, pix0 + ig::b_column(tid), group);
      for (int r = 0; r < ig::kRowsB; ++r) {
        const int32_t offset = ig::column_offset<3, 3>(s, px, k0 + ig::b_row(tid, r));
        b[ig::b_row(tid, r) * ig::kTileN + ig::b_column(tid)] = offset >= 0 ? x.at(offset) : 0.0;
      }
    }
    for (double v : a) REQUIRE(!std::isnan(v));  // every entry of both tiles was loaded
    for (double v : b) REQUIRE(!std::isnan(v));
    for (int m = 0; m < ig::kTileM; ++m)
      for (int k = 0; k < ig::kTileK; ++k)
        for (int q = 0; q < ig::kTileN; ++q)
          acc[m * ig::kTileN + q] += a[m * ig::kTileK + k] * b[k * ig::kTileN + q];
  }
  for (int m = 0; m < ig::kTileM; ++m)
    for (int q = 0; q < ig::kTileN; ++q) {
      const int channel = m0 + m, pixel = pix0 + q;
      if (channel >= s.og || pixel >= s.npix) continue;
      const int32_t offset = ig::output_offset(s, group, channel, pixel);
      out.at(offset) = acc[m * ig::kTileN + q];
      writes.at(offset) += 1;
    }
}

// runs: the weights as 16-byte runs, which the kernel takes when whole_weight_runs(d) (and the
// weights are aligned), else one by one.
void check_convolution(const ig::ConvDims& d, bool runs, std::mt19937& rng) {
  INFO("n " << d.n << " cin " << d.cin << " " << d.h << "x" << d.w << " cout " << d.cout
            << " groups " << d.groups << " stride " << d.sh << "," << d.sw << " pad " << d.ph << ","
            << d.pw << " dilation " << d.dh << "," << d.dw << " runs " << runs);
  REQUIRE(ig::supported(d));
  REQUIRE((!runs || ig::whole_weight_runs(d)));
  std::uniform_real_distribution<double> any(-1.0, 1.0);
  std::vector<double> x(static_cast<size_t>(d.n * d.cin * d.h * d.w));
  std::vector<double> w(static_cast<size_t>(d.cout * d.cin / d.groups * d.kh * d.kw));
  for (double& v : x) v = any(rng);
  for (double& v : w) v = any(rng);
  const ig::Geometry s = ig::make_geometry(d);
  std::vector<double> out(static_cast<size_t>(d.n * d.cout * d.ho * d.wo), NAN);
  std::vector<int> writes(out.size(), 0);
  for (int g = 0; g < d.groups; ++g)
    for (int by = 0; by < ig::tiles(s.og, ig::kTileM); ++by)
      for (int bx = 0; bx < ig::tiles(s.npix, ig::kTileN); ++bx)
        emulate_block(s, x, w, g, bx, by, runs, out, writes);
  const std::vector<double> expected = direct_conv(d, x, w);
  for (size_t i = 0; i < out.size(); ++i) {
    REQUIRE(writes[i] == 1);
    REQUIRE(out[i] == doctest::Approx(expected[i]).epsilon(1e-12));
  }
}

// gw = the weight gradient of conv(x, w) for grad_out, in double, from the definition.
std::vector<double> direct_weight_grad(const ig::ConvDims& d, const std::vector<double>& x,
                                       const std::vector<double>& go) {
  const int64_t og = d.cout / d.groups, cg = d.cin / d.groups;
  std::vector<double> gw(static_cast<size_t>(d.cout * cg * 9), 0.0);
  for (int64_t o = 0; o < d.cout; ++o)
    for (int64_t c = 0; c < cg; ++c)
      for (int64_t i = 0; i < 3; ++i)
        for (int64_t j = 0; j < 3; ++j) {
          double sum = 0;
          for (int64_t b = 0; b < d.n; ++b)
            for (int64_t oh = 0; oh < d.ho; ++oh)
              for (int64_t ow = 0; ow < d.wo; ++ow) {
                const int64_t ih = oh * d.sh - d.ph + i * d.dh, iw = ow * d.sw - d.pw + j * d.dw;
                if (ih < 0 || ih >= d.h || iw < 0 || iw >= d.w) continue;
                sum +=
                    go[static_cast<size_t>(((b * d.cout + o) * d.ho + oh) * d.wo + ow)] *
                    x[static_cast<size_t>(((b * d.cin + o / og * cg + c) * d.h + ih) * d.w + iw)];
              }
          gw[static_cast<size_t>(((o * cg + c) * 3 + i) * 3 + j)] = sum;
        }
  return gw;
}

// One block of the weight-gradient kernel: slice `split` of the pixels, tile (bx: k, by: m).
void emulate_wgrad_block(const ig::Geometry& s, const std::vector<double>& x,
                         const std::vector<double>& go, int group, int split, int splits, int bx,
                         int by, std::vector<double>& partial, std::vector<int>& writes) {
  const int k0 = bx * ig::kTileN, m0 = by * ig::kTileM;
  std::vector<ig::Tap> taps;
  for (int t = 0; t < ig::kTileN; ++t) taps.push_back(ig::tap_of<3, 3>(s, k0 + t));
  std::vector<double> acc(ig::kTileM * ig::kTileN, 0.0);
  const ig::StageRange range = ig::slice_stages(s, split, splits);
  for (int t = range.first; t < range.last; ++t) {
    std::vector<double> a(ig::kTileM * ig::kTileQ, NAN), b(ig::kTileN * ig::kTileQ, NAN);
    for (int tid = 0; tid < ig::kThreads; ++tid) {
      const int pixel = t * ig::kTileQ + ig::q_column(tid);
      const int32_t go_base = ig::grad_out_base(s, pixel, group);
      const ig::PixelSource px = ig::pixel_source(s, pixel, group);
      for (int r = 0; r < ig::kRowsQ; ++r) {
        const int row = ig::q_row(tid, r), m = m0 + row, k = k0 + row;
        a[row * ig::kTileQ + ig::q_column(tid)] =
            go_base >= 0 && m < s.og ? go.at(go_base + m * s.hwo) : 0.0;
        const int32_t offset = px.valid && k < s.kg ? ig::tap_offset(s, px, taps[row]) : -1;
        b[row * ig::kTileQ + ig::q_column(tid)] = offset >= 0 ? x.at(offset) : 0.0;
      }
    }
    for (double v : a) REQUIRE(!std::isnan(v));
    for (double v : b) REQUIRE(!std::isnan(v));
    for (int m = 0; m < ig::kTileM; ++m)
      for (int k = 0; k < ig::kTileN; ++k)
        for (int q = 0; q < ig::kTileQ; ++q)
          acc[m * ig::kTileN + k] += a[m * ig::kTileQ + q] * b[k * ig::kTileQ + q];
  }
  for (int m = 0; m < ig::kTileM; ++m)
    for (int k = 0; k < ig::kTileN; ++k) {
      if (m0 + m >= s.og || k0 + k >= s.kg) continue;
      const int64_t offset = ig::partial_offset(s, split, group, m0 + m, k0 + k);
      partial.at(offset) = acc[m * ig::kTileN + k];
      writes.at(offset) += 1;
    }
}

void check_weight_grad(const ig::ConvDims& d, int sms, std::mt19937& rng) {
  INFO("n " << d.n << " cin " << d.cin << " " << d.h << "x" << d.w << " cout " << d.cout
            << " groups " << d.groups << " stride " << d.sh << " pad " << d.ph << " sms " << sms);
  std::uniform_real_distribution<double> any(-1.0, 1.0);
  std::vector<double> x(static_cast<size_t>(d.n * d.cin * d.h * d.w));
  std::vector<double> go(static_cast<size_t>(d.n * d.cout * d.ho * d.wo));
  for (double& v : x) v = any(rng);
  for (double& v : go) v = any(rng);
  const ig::Geometry s = ig::make_geometry(d);
  const int splits = ig::weight_grad_splits(s, d.groups, sms);
  const size_t count = static_cast<size_t>(s.cout) * s.kg;
  std::vector<double> partial(count * splits, NAN);
  std::vector<int> writes(partial.size(), 0);
  for (int z = 0; z < d.groups * splits; ++z)
    for (int by = 0; by < ig::tiles(s.og, ig::kTileM); ++by)
      for (int bx = 0; bx < ig::tiles(s.kg, ig::kTileN); ++bx)
        emulate_wgrad_block(s, x, go, z % d.groups, z / d.groups, splits, bx, by, partial, writes);
  const std::vector<double> expected = direct_weight_grad(d, x, go);
  for (size_t i = 0; i < count; ++i) {
    double sum = 0;
    for (int z = 0; z < splits; ++z) {
      REQUIRE(writes[z * count + i] == 1);
      sum += partial[z * count + i];
    }
    REQUIRE(sum == doctest::Approx(expected[i]).epsilon(1e-12));
  }
}

// Output size of one spatial dimension.
int64_t out_size(int64_t in, int64_t stride, int64_t pad, int64_t dilation) {
  return (in + 2 * pad - dilation * 2 - 1) / stride + 1;
}

ig::ConvDims dims(int64_t n, int64_t cin, int64_t h, int64_t w, int64_t cout, int64_t groups,
                  int64_t stride, int64_t pad, int64_t dilation) {
  return {n,
          cin,
          h,
          w,
          cout,
          groups,
          3,
          3,
          out_size(h, stride, pad, dilation),
          out_size(w, stride, pad, dilation),
          stride,
          stride,
          pad,
          pad,
          dilation,
          dilation};
}

}  // namespace

TEST_CASE("the implicit-GEMM convolution's tiles compute a direct convolution") {
  std::mt19937 rng(5);
  // a ResNet-9 layer (smaller batch): whole tiles of channels, pixels over several samples
  check_convolution(dims(2, 64, 16, 16, 128, 1, 1, 1, 1), true, rng);
  // partial tiles everywhere: 40 channels, 3 x 7 x 9 pixels, a reduction of 72 (2.25 stages)
  check_convolution(dims(3, 8, 7, 9, 40, 1, 1, 1, 1), true, rng);
  // stride 2, no padding, dilation 2, and groups (each a GEMM of its own, blockIdx.z)
  check_convolution(dims(2, 16, 11, 10, 24, 1, 2, 0, 1), true, rng);
  check_convolution(dims(2, 8, 9, 9, 16, 1, 1, 2, 2), true, rng);
  check_convolution(dims(2, 32, 6, 5, 12, 2, 1, 1, 1), true, rng);
  // padding past k - 1, as grad_x's transposed convolution of a padded forward can have
  check_convolution(dims(1, 8, 4, 4, 8, 1, 1, 3, 1), true, rng);
  // more output channels than one tile (two tiles along y)
  check_convolution(dims(1, 16, 5, 5, 200, 1, 1, 1, 1), true, rng);
  // weights one by one: rows of 27 and 9 (3 and 1 input channels), and a shape of whole runs
  // whose weights are not aligned for them
  check_convolution(dims(2, 3, 8, 8, 64, 1, 1, 1, 1), false, rng);
  check_convolution(dims(3, 1, 7, 7, 32, 1, 1, 1, 1), false, rng);
  check_convolution(dims(2, 12, 6, 6, 9, 3, 1, 1, 1), false, rng);
  check_convolution(dims(3, 8, 7, 9, 40, 1, 1, 1, 1), false, rng);
}

TEST_CASE("the implicit-GEMM convolution takes 3x3 kernels over whole 16-byte weight runs") {
  CHECK(ig::supported(dims(512, 64, 32, 32, 128, 1, 1, 1, 1)));
  CHECK(ig::whole_weight_runs(dims(512, 64, 32, 32, 128, 1, 1, 1, 1)));
  // any reduction length; weights in runs of 8 only when it is a multiple of 8
  CHECK(ig::supported(dims(512, 3, 32, 32, 64, 1, 1, 1, 1)));
  CHECK_FALSE(ig::whole_weight_runs(dims(512, 3, 32, 32, 64, 1, 1, 1, 1)));  // kg = 27
  CHECK(ig::supported(dims(2, 12, 8, 8, 8, 3, 1, 1, 1)));
  CHECK_FALSE(ig::whole_weight_runs(dims(2, 12, 8, 8, 8, 3, 1, 1, 1)));  // kg = 36
  ig::ConvDims five = dims(2, 8, 8, 8, 8, 1, 1, 1, 1);
  five.kh = five.kw = 5;
  CHECK_FALSE(ig::supported(five));
  CHECK_FALSE(ig::supported(dims(4096, 256, 64, 64, 8, 1, 1, 1, 1)));  // x past 2^31 entries
  CHECK_FALSE(ig::supported(dims(0, 8, 8, 8, 8, 1, 1, 1, 1)));         // empty launches
  CHECK_FALSE(ig::supported(dims(2, 0, 8, 8, 8, 1, 1, 1, 1)));
  CHECK_FALSE(ig::supported(dims(2, 8, 1, 8, 8, 1, 1, 0, 1)));  // ho = 0
}

TEST_CASE("the implicit-GEMM weight gradient's tiles and pixel slices compute the definition") {
  std::mt19937 rng(6);
  // sms picks the slicing: many slices (some of them empty), and a single one
  check_weight_grad(dims(2, 64, 16, 16, 128, 1, 1, 1, 1), 132, rng);
  check_weight_grad(dims(3, 8, 7, 9, 40, 1, 1, 1, 1), 132, rng);
  check_weight_grad(dims(3, 8, 7, 9, 40, 1, 1, 1, 1), 1, rng);
  check_weight_grad(dims(2, 16, 11, 10, 24, 1, 2, 0, 1), 8, rng);
  check_weight_grad(dims(2, 8, 9, 9, 16, 1, 1, 2, 2), 16, rng);
  check_weight_grad(dims(2, 32, 6, 5, 12, 2, 1, 1, 1), 4, rng);
  check_weight_grad(dims(1, 16, 5, 5, 200, 1, 1, 1, 1), 132, rng);
  // reduction lengths that are not whole runs of 8: ResNet-9's first layer, the cnn's first,
  // and groups of 4 channels
  check_weight_grad(dims(2, 3, 8, 8, 64, 1, 1, 1, 1), 132, rng);
  check_weight_grad(dims(3, 1, 7, 7, 32, 1, 1, 1, 1), 16, rng);
  check_weight_grad(dims(2, 12, 6, 6, 9, 3, 1, 1, 1), 8, rng);
}

TEST_CASE("the weight gradient's slices fill the GPU within their memory cap") {
  // ResNet-9 at batch 512 on 132 SMs: the first layer has 5 tiles and half a million pixels
  const ig::Geometry layer1 = ig::make_geometry(dims(512, 64, 32, 32, 128, 1, 1, 1, 1));
  const int32_t splits = ig::weight_grad_splits(layer1, 1, 132);
  CHECK(splits * 5 >= 4 * 132);
  CHECK(int64_t{splits} * 128 * 576 * 4 <= ig::kMaxPartialBytes);
  // the last layers: 144 tiles, fp32 partial sums of 9.4 MB each, so 3 slices fit in 32 MiB
  const ig::Geometry res3 = ig::make_geometry(dims(512, 512, 4, 4, 512, 1, 1, 1, 1));
  CHECK(ig::weight_grad_splits(res3, 1, 132) == 3);
  // a few pixels: at least 8 stages per slice, and never fewer than one slice
  CHECK(ig::weight_grad_splits(ig::make_geometry(dims(1, 8, 4, 4, 8, 1, 1, 1, 1)), 1, 132) == 1);
}
