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
    if (r.lost_total.elements > 0) std::snprintf(lost, sizeof lost, "%.1f%%", 100 * r.lost_total.share());
    char delta[32] = "";
    if (reference != nullptr && &r != reference) {
      std::snprintf(delta, sizeof delta, "%+.2f", 100 * (r.accuracy - reference->accuracy));
    }
    std::printf("  %-56s %6.2f%%   %-8s %-11.4g %-8lld %s\n", spec.label().c_str(), 100 * r.accuracy, delta,
                r.final_loss, static_cast<long long>(r.skipped), lost);
  }
}

}  // namespace

void chapter_accuracy(Context& ctx, double small_lr, int loss_shift) {
  heading(7, "Accuracy",
          "Mixed precision (fp16 compute, fp32 master weights, loss scaling) matches fp32 (the\n"
          "lecture's Table 1); dropping loss scaling or master weights can cost accuracy (Table 2).");
  Trainer& t = *ctx.trainer;
  std::printf("  Every run: %s.\n  'lost updates': share of nonzero updates that left the 16-bit "
              "weight unchanged (Optimizer::count_lost_updates).\n\n", t.describe().c_str());
  const RunSpec fp32{};
  const RunResult& reference = t.run(fp32);
  std::printf("  Table 1: fp32 vs mixed precision\n");
  table(t, {fp32, {"fp16", "O1", "dynamic"}, {"fp16", "O2", "dynamic"}, {"bf16", "O1", "none"}, {"bf16", "O2", "none"}},
        &reference);
  std::printf("\n  Table 2: without loss scaling, without master weights (same recipe)\n");
  table(t, {fp32, {"fp16", "O2", "none"}, {"fp16", "O3", "dynamic"}, {"fp16", "O3", "none"}}, &reference);
  std::printf(
      "\n  On this recipe nothing fails: the cnn's gradients mostly sit above 2^-24 (chapter 4) and\n"
      "  at lr 0.05 most updates are large enough for the fp16 weights. The two failures need\n"
      "  conditions that provoke them:\n");

  RunSpec slow32{};
  slow32.lr = small_lr;
  RunSpec slow_o2{"fp16", "O2", "dynamic"}, slow_o3{"fp16", "O3", "dynamic"};
  slow_o2.lr = slow_o3.lr = small_lr;
  std::printf("\n  Small updates (peak lr %g): without master weights the updates round away\n", small_lr);
  const RunResult& slow_ref = t.run(slow32);
  table(t, {slow32, slow_o2, slow_o3}, &slow_ref);

  const double factor = std::ldexp(1.0, loss_shift);
  RunSpec tiny32{};
  tiny32.loss_factor = factor;
  RunSpec tiny_none{"fp16", "O2", "none"}, tiny_dyn{"fp16", "O2", "dynamic"};
  tiny_none.loss_factor = tiny_dyn.loss_factor = factor;
  std::printf("\n  Small gradients (loss x 2^%d, lr / 2^%d, weight decay x 2^%d: the same training in exact\n"
              "  arithmetic, every gradient 2^%d times smaller): without loss scaling they flush to zero\n",
              loss_shift, loss_shift, loss_shift, -loss_shift);
  const RunResult& tiny_ref = t.run(tiny32);
  table(t, {tiny32, tiny_none, tiny_dyn}, &tiny_ref);
}

}  // namespace hg::tour
