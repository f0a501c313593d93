// Chapter 7: accuracy per precision, and what goes wrong without loss scaling or masters.
#include <cmath>
#include <cstdio>
#include <vector>

#include "chapters.h"

namespace hg::tour {

namespace {

void table(Trainer& t, const std::vector<RunSpec>& specs, const RunResult* reference) {
  std::printf("  %-56s %-9s %-8s %-11s %-8s %s\n", "run", "accuracy", "vs fp32", "final loss",
              "skipped", "lost updates");
  for (const RunSpec& spec : specs) {
    const RunResult& r = t.run(spec);
    char lost[32] = "-";
    if (r.lost_total.elements > 0)
      std::snprintf(lost, sizeof lost, "%.1f%%", 100 * r.lost_total.share());
    char delta[32] = "";
    if (reference != nullptr && &r != reference) {
      std::snprintf(delta, sizeof delta, "%+.2f", 100 * (r.accuracy - reference->accuracy));
    }
    std::printf("  %-56s %6.2f%%   %-8s %-11.4g %-8lld %s\n", spec.label().c_str(),
                100 * r.accuracy, delta, r.final_loss, static_cast<long long>(r.skipped), lost);
  }
}

// One line on what the table shows: run vs its fp32 reference.
void verdict(Trainer& t, const RunSpec& spec, const RunResult& reference, const char* what) {
  const RunResult& r = t.run(spec);
  const double delta = 100 * (r.accuracy - reference.accuracy);
  if (delta < -1.0) {
    std::printf("  -> %s: %.2f points below fp32.\n", what, -delta);
  } else {
    std::printf("  -> %s: no visible cost here (%+.2f points).\n", what, delta);
  }
}

}  // namespace

void chapter_accuracy(Context& ctx) {
  heading(
      7, "Accuracy",
      "Mixed precision (fp16 compute, fp32 master weights, loss scaling) matches fp32 (the\n"
      "lecture's Table 1); dropping loss scaling or master weights can cost accuracy (Table 2).");
  Trainer& t = *ctx.trainer;
  std::printf(
      "  Every run: %s.\n  'lost updates': share of nonzero updates that left the 16-bit "
      "weight unchanged (Optimizer::count_lost_updates).\n\n",
      t.describe().c_str());
  const RunSpec fp32{}, no_scaling{"fp16", "O2", "none"}, no_masters{"fp16", "O3", "dynamic"};
  const RunResult& reference = t.run(fp32);
  std::printf("  Table 1: fp32 vs mixed precision\n");
  table(t, {fp32, {"fp16", "O1", "dynamic"}, {"fp16", "O2", "dynamic"}, {"bf16", "O2", "none"}},
        &reference);
  std::printf("\n  Table 2: without loss scaling, without master weights (same recipe)\n");
  table(t, {fp32, no_scaling, no_masters}, &reference);
  verdict(t, no_scaling, reference, "without loss scaling");
  verdict(t, no_masters, reference, "without master weights");
  std::printf(
      "  MNIST is forgiving: the gradients that underflow late in training (chapter 4) belong to\n"
      "  examples the model already gets right, and the updates an fp16 weight cannot absorb are\n"
      "  the small ones. Conditions that provoke each failure:\n");

  RunSpec slow32{};
  slow32.lr = ctx.small_lr;
  RunSpec slow_o2{"fp16", "O2", "dynamic"}, slow_o3 = no_masters;
  slow_o2.lr = slow_o3.lr = ctx.small_lr;
  std::printf(
      "\n  Small updates: peak lr %g instead of 0.05, so more updates fall below half an ulp\n",
      ctx.small_lr);
  const RunResult& slow_ref = t.run(slow32);
  table(t, {slow32, slow_o2, slow_o3}, &slow_ref);
  verdict(t, slow_o3, slow_ref, "without master weights");

  const int shift = ctx.loss_shift;
  RunSpec tiny32{}, tiny_none = no_scaling, tiny_dyn{"fp16", "O2", "dynamic"};
  tiny32.loss_factor = tiny_none.loss_factor = tiny_dyn.loss_factor = std::ldexp(1.0, shift);
  std::printf(
      "\n  Small gradients: loss x 2^%d with lr x 2^%d and weight decay x 2^%d, the same training\n"
      "  in exact arithmetic (compare the fp32 rows), with every gradient 2^%d times smaller\n",
      shift, -shift, shift, -shift);
  const RunResult& tiny_ref = t.run(tiny32);
  table(t, {tiny32, tiny_none, tiny_dyn}, &tiny_ref);
  verdict(t, tiny_none, tiny_ref, "without loss scaling");
  verdict(t, tiny_dyn, tiny_ref, "with the dynamic loss scale");
}

}  // namespace hg::tour
