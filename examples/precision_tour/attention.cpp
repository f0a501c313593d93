// Chapter 8: attention in 16 bits. Under autocast, attention composed of matmul and softmax
// rounds its scores to the 16-bit type between the two; the fused kernel keeps them in float.
#include <cstdio>
#include <string>

#include <halfgrad/halfgrad.h>

#include "chapters.h"
#include "plot.h"

namespace hg::tour {

namespace {

struct AttentionErrors {
  double largest_score, top_weight, composite, fused;
};

// 64 heads of 64 queries and keys, width 64; queries scaled by `sharpness`, so the scores
// (q k^T / 8) have a standard deviation of about `sharpness`. The inputs hold values of `dtype`
// (so both paths start from the same ones); the reference is fp64 on those values.
AttentionErrors attention_errors(DType dtype, double sharpness) {
  manual_seed(7);
  const Tensor q = (randn({64, 64, 64}) * sharpness).to(dtype).to(kFloat32);
  const Tensor k = randn({64, 64, 64}).to(dtype).to(kFloat32);
  const Tensor v = randn({64, 64, 64}).to(dtype).to(kFloat32);
  const Tensor q64 = q.to(kFloat64), k64 = k.to(kFloat64), v64 = v.to(kFloat64);
  const Tensor scores = matmul(q64 * 0.125, k64.transpose(-2, -1));
  const Tensor reference = scaled_dot_product_attention(q64, k64, v64);
  Tensor composite, fused;
  {
    amp::AutocastGuard autocast(dtype);
    composite = scaled_dot_product_attention_with_weights(q, k, v).output;  // always composed
    fused = scaled_dot_product_attention(q, k, v);  // the fused kernel, on the CPU
  }
  return {scores.abs().max().item<double>(), softmax(scores, -1).amax({-1}).mean().item<double>(),
          max_relative_error(composite, reference), max_relative_error(fused, reference)};
}

}  // namespace

double max_relative_error(const Tensor& got, const Tensor& reference) {
  return (got.to(kFloat64) - reference).abs().max().item<double>() /
         reference.abs().max().item<double>();
}

void chapter_attention(Context& ctx) {
  heading(
      8, "Attention in 16 bits: where the scores are rounded",
      "Under autocast, attention composed of matmul and softmax (PyTorch's math path, and\n"
      "halfgrad's composite) rounds the scores q k^T to 16 bits before the softmax. Half an ulp\n"
      "of error in a score multiplies its weight by up to e^(ulp/2), and the ulp grows with the\n"
      "score: bf16's is 0.0625 at 8 and 0.25 at 32. Sharp attention (large scores, one key\n"
      "taking most of the weight) loses the most. halfgrad's fused kernel keeps the scores and\n"
      "weights in float and rounds only the output: its error is the output's own rounding.\n"
      "Inputs: 64 heads, 64 queries and keys of width 64; the queries scaled by s; errors of\n"
      "the output relative to its largest value, against fp64 on the same inputs.");
  std::printf("  %-6s %-5s %-14s %-12s %-15s %-15s\n", "dtype", "s", "largest score", "top weight",
              "composite", "fused");
  PlotSpec plot{"ch8_attention",
                "Attention output error under autocast vs the scores' scale",
                "query scale s (score standard deviation)",
                "relative error of the output",
                true,
                true,
                {},
                {}};
  for (const DType dtype : {kBFloat16, kFloat16}) {
    const std::string name = dtype == kBFloat16 ? "bf16" : "fp16";
    Series composite{name + " composite (scores rounded)", {}, "linespoints"};
    Series fused{name + " fused (scores in float)", {}, "linespoints"};
    for (const double s : {1.0, 2.0, 4.0, 8.0, 16.0}) {
      const AttentionErrors e = attention_errors(dtype, s);
      std::printf("  %-6s %-5g %-14.1f %-12.3f %-15.3e %-15.3e\n", name.c_str(), s, e.largest_score,
                  e.top_weight, e.composite, e.fused);
      composite.points.emplace_back(s, e.composite);
      fused.points.emplace_back(s, e.fused);
    }
    plot.series.push_back(composite);
    plot.series.push_back(fused);
  }
  std::printf(
      "  (top weight: the mean over queries of the largest attention weight.) The composite's\n"
      "  error grows with the scores; the fused kernel's stays within the output's own rounding\n"
      "  (half an ulp: at most 2^-8 = 3.9e-3 of the largest value in bf16, 2^-11 = 4.9e-4 in\n"
      "  fp16). Both paths multiply the same 16-bit inputs: only where the rounding happens\n"
      "  differs.\n");
  const std::string png = write_plot(ctx.out_dir, plot);
  if (!png.empty()) std::printf("  plot: %s\n", png.c_str());
}

}  // namespace hg::tour
