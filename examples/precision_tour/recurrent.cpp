// Chapter 9: a recurrent weight's gradient in 16 bits. W_hh enters every time step, so its
// gradient is a sum over the steps: a tape of steps sums the steps' 16-bit gradients in 16 bits;
// lstm_sequence sums them in float and rounds once.
#include <cstdio>
#include <string>
#include <vector>

#include <halfgrad/halfgrad.h>

#include "chapters.h"
#include "plot.h"

namespace hg::tour {

namespace {

constexpr int64_t kBatch = 16, kHidden = 32;

// One LSTM layer's inputs, holding values of the 16-bit dtype (so every path starts from the
// same ones), as float64 leaves; the upstream gradient of the output is `upstream`.
struct LstmInputs {
  Tensor projected, h0, c0, w_hh, b_hh, upstream;
};

LstmInputs lstm_inputs(DType dtype, int64_t steps) {
  manual_seed(9);
  const auto values = [&](const Shape& shape, double scale) {
    return (randn(shape) * scale).to(dtype).to(kFloat64);
  };
  return {values({steps * kBatch, 4 * kHidden}, 1.0),
          values({kBatch, kHidden}, 0.5),
          values({kBatch, kHidden}, 0.5),
          values({4 * kHidden, kHidden}, 0.2),
          values({4 * kHidden}, 0.2),
          values({steps * kBatch, kHidden}, 1.0)};
}

// W_hh's gradient of sum(output * upstream) over the whole sequence, in `dtype`: through
// lstm_sequence (one node), or through a tape of linear + lstm_cell_pointwise per step.
Tensor w_hh_gradient(const LstmInputs& in, DType dtype, bool fused) {
  const auto leaf = [&](const Tensor& t) { return t.detach().to(dtype).requires_grad_(); };
  const Tensor projected = in.projected.to(dtype), w_hh = leaf(in.w_hh), b_hh = in.b_hh.to(dtype);
  Tensor output;
  if (fused) {
    output = std::get<0>(lstm_sequence(
        projected, std::vector<int64_t>(static_cast<size_t>(projected.size(0) / kBatch), kBatch),
        in.h0.to(dtype), in.c0.to(dtype), w_hh, b_hh));
  } else {
    Tensor h = in.h0.to(dtype), c = in.c0.to(dtype);
    std::vector<Tensor> outputs;
    for (int64_t t = 0; t * kBatch < projected.size(0); ++t) {
      std::tie(h, c) =
          lstm_cell_pointwise(projected.narrow(0, t * kBatch, kBatch), linear(h, w_hh, b_hh), c);
      outputs.push_back(h);
    }
    output = cat(outputs, 0);
  }
  (output * in.upstream.to(dtype)).sum().backward();
  return w_hh.grad();
}

}  // namespace

void chapter_recurrent(Context& ctx) {
  heading(9, "A recurrent weight's gradient: summed over the time steps",
          "An LSTM's recurrent weight W_hh enters every time step, so its gradient is a sum of\n"
          "one product per step. A tape of steps (a hand-written loop over the cell, each step\n"
          "recorded) rounds each step's product to 16 bits and adds the steps in 16 bits: the\n"
          "sum of T terms meets chapter 6's stalled accumulator. halfgrad's nn::LSTM\n"
          "and nn::GRU tape each layer as one node (lstm_sequence) whose backward takes all\n"
          "steps in one product, accumulated in float and rounded once. Inputs: batch 16,\n"
          "hidden 32, values of the 16-bit dtype; error of W_hh's gradient relative to its\n"
          "largest value, against fp64 on the same inputs.");
  std::printf("  %-6s %-7s %-17s %-17s\n", "dtype", "steps", "tape of steps", "lstm_sequence");
  PlotSpec plot{"ch9_recurrent",
                "LSTM recurrent weight gradient error vs sequence length",
                "time steps",
                "relative error of the gradient",
                true,
                true,
                {},
                {}};
  for (const DType dtype : {kBFloat16, kFloat16}) {
    const std::string name = dtype == kBFloat16 ? "bf16" : "fp16";
    Series stepped{name + " tape of steps", {}, "linespoints"};
    Series fused{name + " one node, summed in float", {}, "linespoints"};  // no _ (gnuplot)
    for (const int64_t steps : {4, 16, 64, 256, 1024}) {
      const LstmInputs in = lstm_inputs(dtype, steps);
      const Tensor reference = w_hh_gradient(in, kFloat64, true);
      const double e_stepped = max_relative_error(w_hh_gradient(in, dtype, false), reference);
      const double e_fused = max_relative_error(w_hh_gradient(in, dtype, true), reference);
      std::printf("  %-6s %-7lld %-17.3e %-17.3e\n", name.c_str(), static_cast<long long>(steps),
                  e_stepped, e_fused);
      stepped.points.emplace_back(static_cast<double>(steps), e_stepped);
      fused.points.emplace_back(static_cast<double>(steps), e_fused);
    }
    plot.series.push_back(stepped);
    plot.series.push_back(fused);
  }
  std::printf(
      "  Both paths run the same 16-bit forward and the same state gradients, bit for bit;\n"
      "  only the sum over the steps differs. Over a few steps the two are alike (the 16-bit\n"
      "  states' own rounding dominates); the tape's error then grows with the number of\n"
      "  steps, lstm_sequence's stays near that of the states it multiplies.\n");
  const std::string png = write_plot(ctx.out_dir, plot);
  if (!png.empty()) std::printf("  plot: %s\n", png.c_str());
}

}  // namespace hg::tour
