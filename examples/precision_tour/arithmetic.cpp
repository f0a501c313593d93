// Chapters 3 (swamping, lost updates) and 6 (accumulation precision).
#include <cmath>
#include <cstdio>
#include <vector>

#include "chapters.h"
#include "plot.h"

namespace hg::tour {

namespace {

double fp16(double x) { return static_cast<float>(Half(static_cast<float>(x))); }

// value + value/ratio, rounded to fp16, for ratios 2^9 .. 2^13.
void swamping_table() {
  std::printf("  fp16(value + update) with update = value / ratio (round to nearest even):\n");
  std::printf("  %-8s", "value");
  for (int k = 9; k <= 13; ++k) std::printf("  ratio 2^%-2d     ", k);
  std::printf("\n");
  for (double value : {1.0, 1.5, 1000.0}) {
    const double v = fp16(value);
    std::printf("  %-8g", v);
    for (int k = 9; k <= 13; ++k) {
      const double sum = fp16(v + v / std::ldexp(1.0, k));
      std::printf("  %-10.7g %-4s", sum, sum == v ? "lost" : "kept");
    }
    std::printf("\n");
  }
  std::printf(
      "  For a power of two, value/update = 2^11 is a tie (rounded to the even value: lost) and\n"
      "  anything larger rounds away. Higher in a binade the spacing is the same but the value\n"
      "  larger, so the limit approaches 2^12 (1.5 and 1000 keep a 2^-11 relative update).\n\n");
}

// SGD on one weight of 1.0 with lr * grad = 1e-4 per step, with and without fp32 masters.
void optimizer_demo() {
  std::printf("  SGD, 1000 steps of lr 1e-4 x gradient 1 on an fp16 weight of 1.0 (exact: 0.9):\n");
  for (bool masters : {false, true}) {
    Tensor w = ones({1}, kFloat16).requires_grad_();
    optim::SGD opt({w}, optim::SGDOptions(1e-4));
    opt.set_master_weights(masters);
    opt.count_lost_updates(true);
    for (int i = 0; i < 1000; ++i) {
      w.set_grad(ones({1}, kFloat16));
      opt.step();
    }
    const optim::LostUpdateCount& c = opt.total_lost_updates();
    std::printf("    %-26s fp16 weight %-9.6g",
                masters ? "O2 (fp32 master weight):" : "O3 (fp16 weight only):",
                w.to(kFloat32).item<double>());
    if (masters)
      std::printf(" master %-9.6g", opt.master_weight(w).item<double>());
    else
      std::printf(" %16s", "");
    std::printf(" steps that left the fp16 weight unchanged: %lld of %lld\n",
                static_cast<long long>(c.lost), static_cast<long long>(c.updated));
  }
  std::printf(
      "  The O3 weight never moves. With a master the fp16 weight moves whenever the master\n"
      "  has drifted half an ulp: most steps still leave it unchanged, but none is lost.\n\n");
}

void real_training_counts(Context& ctx) {
  Trainer& t = *ctx.trainer;
  std::printf(
      "  On a real run (%s), fp16, dynamic loss scale,\n  counted by "
      "Optimizer::count_lost_updates:\n",
      t.describe().c_str());
  const RunSpec o3{"fp16", "O3", "dynamic"}, o2{"fp16", "O2", "dynamic"};
  RunSpec o3_small = o3, o2_small = o2;
  o3_small.lr = o2_small.lr = ctx.small_lr;
  PlotSpec plot{"ch3_lost_updates",
                "Share of nonzero updates that left the fp16 weight unchanged",
                "training step",
                "lost / updated elements",
                false,
                false,
                {"set yrange [0:1]"},
                {}};
  plot.key = "inside bottom right";
  std::printf("  %-52s %-13s %-15s %s\n", "run", "accuracy", "lost/updated", "updated elements");
  for (const RunSpec* spec : std::vector<const RunSpec*>{&o3, &o2, &o3_small, &o2_small}) {
    const RunResult& r = t.run(*spec);
    std::printf("  %-52s %6.2f%%       %6.2f%%         %lld\n", spec->label().c_str(),
                100 * r.accuracy, 100 * r.lost_total.share(),
                static_cast<long long>(r.lost_total.updated));
    Series s{spec->label(), {}, "lines"};
    for (const auto& [step, share] : r.lost_share)
      s.points.emplace_back(static_cast<double>(step), share);
    plot.series.push_back(s);
  }
  std::printf(
      "  At O3 these updates are gone; at O2 the same counter counts the updates the fp32\n"
      "  master kept while the fp16 copy could not show them. The share follows the one-cycle\n"
      "  schedule: lowest at the peak lr (30%% into the run), near 100%% as the lr anneals to "
      "0.\n");
  const std::string png = write_plot(ctx.out_dir, plot);
  if (!png.empty()) std::printf("  plot: %s\n", png.c_str());
}

}  // namespace

void chapter_swamping(Context& ctx) {
  heading(3, "Swamping",
          "In fp16, value + update == value once value/update > 2^11: the update is smaller than\n"
          "half the spacing at the value. fp32 master weights keep the small updates.");
  swamping_table();
  optimizer_demo();
  real_training_counts(ctx);
}

// ---- chapter 6 ----

namespace {

struct DotErrors {
  double fp16_acc = 0, fp32_acc = 0, library = 0;
};

// Relative errors of x.y for n fp16 inputs, x uniform in [0, 1) and y in [0, 1/16) (so the
// fp16 result of 2^20 terms, about 2^14, stays below 65504), against a double reference.
DotErrors dot_errors(int64_t n, uint64_t seed) {
  manual_seed(seed);
  const Tensor x = rand({n}).to(kFloat16), y = (rand({n}) * 0.0625).to(kFloat16);
  const Half* xs = x.data<Half>();
  const Half* ys = y.data<Half>();
  double exact = 0;
  float acc32 = 0;
  Half acc16(0.0f);
  for (int64_t i = 0; i < n; ++i) {
    const float product = static_cast<float>(xs[i]) * static_cast<float>(ys[i]);  // exact in fp32
    exact += static_cast<double>(product);
    acc32 += product;
    acc16 = Half(static_cast<float>(acc16) + static_cast<float>(Half(product)));  // fp16 math
  }
  // The library: fp16 tensors, GEMM widens to float and accumulates in fp32, rounds once.
  const double lib = matmul(x.view({1, n}), y.view({n, 1})).to(kFloat64).item<double>();
  return {std::abs(static_cast<float>(acc16) - exact) / exact, std::abs(acc32 - exact) / exact,
          std::abs(lib - exact) / exact};
}

}  // namespace

void chapter_accumulation(Context& ctx) {
  heading(
      6, "Arithmetic precision: accumulate in fp32",
      "A dot product of fp16 vectors accumulated in fp16 stalls once the running sum's half-ulp\n"
      "exceeds the terms; accumulated in fp32 (what tensor cores and halfgrad's GEMM do) its\n"
      "error stays near fp32's. Inputs: fp16 x uniform in [0, 1), y in [0, 1/16); reference\n"
      "in double. halfgrad's matmul on fp16 tensors accumulates in fp32 and rounds the fp16\n"
      "result once, so its error stays at most half an fp16 ulp (2^-11 relative) at any length.");
  std::printf("  %-9s %-17s %-17s %-17s %s\n", "length", "fp16 accumulate", "fp32 accumulate",
              "library matmul", "(relative errors)");
  PlotSpec plot{"ch6_accumulation",
                "Dot product of fp16 vectors: relative error vs length",
                "length n",
                "relative error",
                true,
                true,
                {},
                {}};
  Series s16{"fp16 accumulator (products rounded to fp16)", {}, "linespoints"};
  Series s32{"fp32 accumulator (exact fp16 products)", {}, "linespoints"};
  Series slib{"halfgrad matmul on fp16 tensors (fp32 accumulate)", {}, "linespoints"};
  for (int k = 4; k <= 20; k += 2) {
    const int64_t n = int64_t{1} << k;
    const DotErrors e = dot_errors(n, 100 + static_cast<uint64_t>(k));
    std::printf("  2^%-7d %-17.3e %-17.3e %-17.3e\n", k, e.fp16_acc, e.fp32_acc, e.library);
    const auto len = static_cast<double>(n);
    // log axes cannot show an exact 0: plotted at 1e-12
    s16.points.emplace_back(len, std::max(e.fp16_acc, 1e-12));
    s32.points.emplace_back(len, std::max(e.fp32_acc, 1e-12));
    slib.points.emplace_back(len, std::max(e.library, 1e-12));
  }
  std::printf(
      "  The fp16 accumulator stalls: its error heads to 100%% as the sum's spacing outgrows\n"
      "  the terms. A sequential fp32 sum also drifts with length, orders of magnitude less;\n"
      "  the BLAS GEMM's blocked partial sums drift less still.\n");
  Half ones_sum(0.0f);
  for (int i = 0; i < 4096; ++i) ones_sum = Half(static_cast<float>(ones_sum) + 1.0f);
  std::printf(
      "  Adding 1.0 to an fp16 sum 4096 times gives %g: at 2048 the spacing is 2 and\n"
      "  2048 + 1 is a tie that rounds back to 2048. halfgrad's reductions never accumulate\n"
      "  in 16 bits (docs/numerics.md): sum(ones(4096, fp16)) = %g.\n",
      static_cast<float>(ones_sum), sum(ones({4096}, kFloat16)).to(kFloat32).item<double>());
  plot.series = {s16, s32, slib};
  const std::string png = write_plot(ctx.out_dir, plot);
  if (!png.empty()) std::printf("  plot: %s\n", png.c_str());
}

}  // namespace hg::tour
