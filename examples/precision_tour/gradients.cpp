// Chapters 4 (activation gradients underflow fp16) and 5 (loss scaling shifts them back).
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "chapters.h"
#include "plot.h"

namespace hg::tour {

namespace {

// The fp16 landmarks on a log2 axis: smallest subnormal, smallest normal, largest.
std::vector<std::string> fp16_range_marks() {
  return {"set arrow from -24, graph 0 to -24, graph 1 nohead lw 2 lc rgb 'red'",
          "set label 'fp16 smallest subnormal 2^{-24}' at -24, graph 0.96 right offset -0.5,0 tc "
          "rgb 'red'",
          "set arrow from -14, graph 0 to -14, graph 1 nohead dt 2 lc rgb 'red'",
          "set label 'smallest normal 2^{-14}' at -14, graph 0.90 left offset 0.5,0 tc rgb 'red'",
          "set arrow from 16, graph 0 to 16, graph 1 nohead lw 2 lc rgb 'red'",
          "set label '65504' at 16, graph 0.96 right offset -0.5,0 tc rgb 'red'",
          "set xrange [-60:20]",
          "set style fill transparent solid 0.35"};
}

// The histogram of floor(log2 |g|), shifted by `shift` binades (scaling by 2^shift), as the
// percent of all values (zeros included) per binade.
Series histogram(const std::string& title, const amp::PrecisionStats& s, int shift = 0) {
  Series out{title, {}, "steps lw 2"};
  for (const auto& [bin, n] : s.log2_histogram) {
    out.points.emplace_back(bin + shift, 100.0 * s.share(n));
  }
  return out;
}

std::string pct(double share) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f%%", 100 * share);
  return buf;
}

RunSpec fp32_run() { return RunSpec{}; }
RunSpec fp16_dynamic_run() { return RunSpec{"fp16", "O2", "dynamic"}; }

}  // namespace

namespace {

// The binade holding the median nonzero value of a histogram.
int64_t median_binade(const amp::PrecisionStats& all) {
  const int64_t nonzero = all.count - all.zeros;
  int64_t seen = 0;
  for (const auto& [bin, n] : all.log2_histogram) {
    seen += n;
    if (2 * seen >= nonzero) return bin;
  }
  return 0;
}

// Chapter 4's table, one row per captured step; each step's histogram goes into `plot`.
void print_underflow_by_step(const RunResult& r, PlotSpec& plot) {
  std::printf("\n  %-6s %-12s %-8s %-22s %-22s %-14s %-11s %s\n", "step", "values", "zero",
              "nonzero below 2^-24", "of all: below 2^-24", "flush to zero", "subnormal",
              "median binade");
  for (const Capture& c : r.captures) {
    const double below = share_below(c.all, -24);
    const int64_t nonzero = c.all.count - c.all.zeros;
    std::printf(
        "  %-6lld %-12lld %-8s %-22s %-22s %-14s %-11s 2^%lld\n", static_cast<long long>(c.step),
        static_cast<long long>(c.all.count), pct(c.all.share(c.all.zeros)).c_str(),
        pct(below * static_cast<double>(c.all.count) / static_cast<double>(nonzero)).c_str(),
        pct(below).c_str(), pct(c.all.share(c.all.flush_to_zero)).c_str(),
        pct(c.all.share(c.all.subnormal)).c_str(), static_cast<long long>(median_binade(c.all)));
    plot.series.push_back(histogram("step " + std::to_string(c.step), c.all));
  }
}

// Chapter 4's comparison with the lecture, and the last step layer by layer.
void print_underflow_by_layer(const Capture& last) {
  std::printf(
      "\n  The lecture quotes about 5%% of activation-gradient values below 2^-24 (an SSD "
      "detector);\n"
      "  this cnn has %s of all values (%s of the nonzero ones) below 2^-24 at step %lld.\n",
      pct(share_below(last.all, -24)).c_str(),
      pct(share_below(last.all, -24) * static_cast<double>(last.all.count) /
          static_cast<double>(std::max<int64_t>(last.all.count - last.all.zeros, 1)))
          .c_str(),
      static_cast<long long>(last.step));
  std::printf("\n  Per layer at step %lld (share of the layer's values):\n",
              static_cast<long long>(last.step));
  std::printf("  %-16s %-10s %-10s %-16s %s\n", "layer output", "values", "zero", "below 2^-24",
              "flush to zero");
  for (const auto& [name, s] : last.layers) {
    std::printf("  %-16s %-10lld %-10s %-16s %s\n", name.c_str(), static_cast<long long>(s.count),
                pct(s.share(s.zeros)).c_str(), pct(share_below(s, -24)).c_str(),
                pct(s.share(s.flush_to_zero)).c_str());
  }
}

}  // namespace

void chapter_underflow(Context& ctx) {
  heading(
      4, "Underflow of real gradients",
      "Activation gradients (d loss / d layer output) of a real model span many binades, and part\n"
      "of them lies below fp16's smallest subnormal 2^-24. Captured with Tensor::retain_grad on\n"
      "every layer output of an fp32 run; judged with amp::precision_stats(grad, kFloat16).");
  Trainer& t = *ctx.trainer;
  std::printf("  Run: %s, fp32.\n", t.describe().c_str());
  const RunResult& r = t.run(fp32_run());
  PlotSpec plot{"ch4_gradient_histogram",
                "MNIST cnn activation gradients (fp32 run): log2 histogram",
                "log2 |gradient| (binade)",
                "% of all values",
                false,
                false,
                fp16_range_marks(),
                {}};
  plot.key = "inside right center";
  plot.title += " (zeros: " + pct(r.captures.front().all.share(r.captures.front().all.zeros)) +
                " at step 1, not shown)";
  print_underflow_by_step(r, plot);
  print_underflow_by_layer(r.captures.back());
  std::printf(
      "\n  'flush to zero' is what fp16's rounding would make 0 (below 2^-25, or exactly 2^-25);\n"
      "  values in (2^-25, 2^-24) round up to 2^-24. Zeros come mostly from ReLU and max-pool.\n");
  const std::string png = write_plot(ctx.out_dir, plot);
  if (!png.empty()) std::printf("  plot: %s\n", png.c_str());
}

namespace {

// Chapter 5's table: each captured step's shares below 2^-24 and at or above 2^16 once scaled
// by 1, 8 and the dynamic scale; returns the dynamic scale's log2 at the middle capture.
int print_scaled_shares(const RunResult& base, const RunResult& dyn, const Capture* middle) {
  std::printf("\n  %-6s %-12s %-14s %-18s %s\n", "step", "scale c", "below 2^-24",
              "at or above 2^16", "(share of all values after scaling)");
  int dynamic_shift = 0;
  for (const Capture& c : base.captures) {
    const double s = dyn.scale_per_step[static_cast<size_t>(c.step - 1)];
    const int shift = static_cast<int>(std::lround(std::log2(s)));
    if (&c == middle) dynamic_shift = shift;
    for (const int k : {0, 3, shift}) {
      std::printf("  %-6lld %-12s %-14s %s\n", static_cast<long long>(c.step),
                  ("2^" + std::to_string(k) + (k == shift ? " (dyn)" : "")).c_str(),
                  pct(share_below(c.all, -24 - k)).c_str(),
                  pct(share_at_or_above(c.all, 16 - k)).c_str());
    }
  }
  std::printf("  (exact for powers of two: floor(log2|c g|) = floor(log2|g|) + log2 c.)\n");
  return dynamic_shift;
}

void plot_scaled_histogram(const Context& ctx, const Capture& middle, int dynamic_shift) {
  PlotSpec hist{
      "ch5_scaled_histogram",
      "Activation gradients at step " + std::to_string(middle.step) + ", unscaled and scaled",
      "log2 |scaled gradient| (binade)",
      "% of all values",
      false,
      false,
      fp16_range_marks(),
      {}};
  hist.key = "inside right center";
  hist.series = {histogram("unscaled", middle.all), histogram("x 8", middle.all, 3),
                 histogram("x 2^{" + std::to_string(dynamic_shift) + "} (dynamic scale)",
                           middle.all, dynamic_shift)};
  const std::string png = write_plot(ctx.out_dir, hist);
  if (!png.empty()) std::printf("  plot: %s\n", png.c_str());
}

// The dynamic scale of two fp16 runs over training (growth intervals 2000 and 25).
void plot_dynamic_scales(const Context& ctx, const RunResult& dyn, const RunResult& sawtooth) {
  PlotSpec scale_plot{"ch5_dynamic_scale",
                      "Dynamic loss scale over training (fp16 O2, MNIST cnn)",
                      "training step",
                      "loss scale",
                      false,
                      true,
                      {"set format y '2^{%L}'", "set logscale y 2",
                       "set offsets graph 0, graph 0, graph 0.05, graph 0.05"},
                      {}};
  for (const RunResult* run : {&dyn, &sawtooth}) {
    Series s{run == &dyn ? "growth interval 2000 (PyTorch default)" : "growth interval 25",
             {},
             "steps lw 2"};
    for (size_t i = 0; i < run->scale_per_step.size(); ++i)
      s.points.emplace_back(static_cast<double>(i + 1), run->scale_per_step[i]);
    scale_plot.series.push_back(s);
    std::printf("  %-52s final scale %-8g skipped steps %-4lld test accuracy %.2f%%\n",
                run->spec.label().c_str(), run->final_scale, static_cast<long long>(run->skipped),
                100 * run->accuracy);
  }
  std::printf(
      "  The scaler starts at 2^16, halves (and skips the step) on an inf/NaN gradient and "
      "doubles\n"
      "  after `growth interval` clean steps: it rides just below the overflow edge.\n");
  const std::string png = write_plot(ctx.out_dir, scale_plot);
  if (!png.empty()) std::printf("  plot: %s\n", png.c_str());
}

}  // namespace

void chapter_loss_scaling(Context& ctx) {
  heading(
      5, "Loss scaling",
      "Multiplying the loss by c multiplies every gradient by c (the chain rule is linear): the\n"
      "histogram shifts right by log2(c) binades, out of the underflow region. Unscaling later\n"
      "happens in fp32. Shown on the gradients of chapter 4, scaled by c = 8 and by the dynamic\n"
      "scale an fp16 O2 run (amp::GradScaler, PyTorch defaults) had at the same step.");
  Trainer& t = *ctx.trainer;
  const RunResult& base = t.run(fp32_run());
  const RunResult& dyn = t.run(fp16_dynamic_run());
  const Capture* middle = &base.captures[base.captures.size() / 2];
  const int dynamic_shift = print_scaled_shares(base, dyn, middle);
  plot_scaled_histogram(ctx, *middle, dynamic_shift);
  RunSpec fast = fp16_dynamic_run();
  fast.growth_interval = 25;
  plot_dynamic_scales(ctx, dyn, t.run(fast));
}

}  // namespace hg::tour
