// lstm_sequence and gru_sequence: the step-by-step composition they fuse (linear and the cell per
// step, over packed batch sizes, both directions), gradcheck, the recurrent weight's gradient
// accumulated in float and rounded once in 16 bits, the tape, errors; and nn::LSTM and nn::GRU
// running on them.
#include <cmath>
#include <sstream>
#include <tuple>
#include <vector>

#include "grad_util.h"

using namespace hg;
using hg::test::check_grad;
using hg::test::expect_close;
using hg::test::expect_error;
using hg::test::same_bits;
using hg::test::values;

namespace {

// The inputs of one sequence: projected [rows, G H], h0 and c0 [N, H], w_hh [G H, H], b_hh.
struct Sequence {
  Tensor projected, h0, c0, w_hh, b_hh;
  std::vector<int64_t> sizes;
  std::vector<Tensor> all() const { return {projected, h0, c0, w_hh, b_hh}; }
};

int64_t total(const std::vector<int64_t>& sizes) {
  int64_t rows = 0;
  for (const int64_t n : sizes) rows += n;
  return rows;
}

Sequence make_sequence(int64_t gates, int64_t hidden, const std::vector<int64_t>& sizes,
                       DType dtype, bool bias = true) {
  const auto input = [&](const Shape& shape) { return randn(shape).to(dtype).requires_grad_(); };
  const int64_t g = gates * hidden;
  return {input({total(sizes), g}),     input({sizes[0], hidden}),
          input({sizes[0], hidden}),    (randn({g, hidden}) * 0.5).to(dtype).requires_grad_(),
          bias ? input({g}) : Tensor(), sizes};
}

// The composition, step by step: linear and the fused cell on each step's running rows.
template <typename Cell>
std::vector<Tensor> composed(const Sequence& s, bool reverse, bool lstm, const Cell& cell) {
  const int64_t steps = static_cast<int64_t>(s.sizes.size()), batch = s.h0.size(0);
  std::vector<int64_t> offsets{0};
  for (const int64_t n : s.sizes) offsets.push_back(offsets.back() + n);
  std::vector<Tensor> outputs(static_cast<size_t>(steps));
  Tensor h = s.h0, c = s.c0;
  const auto keep_rest = [&](const Tensor& updated, const Tensor& state, int64_t n) {
    return n == batch ? updated : cat({updated, state.narrow(0, n, batch - n)}, 0);
  };
  for (int64_t i = 0; i < steps; ++i) {
    const int64_t t = reverse ? steps - 1 - i : i, n = s.sizes[static_cast<size_t>(t)];
    const Tensor x = s.projected.narrow(0, offsets[static_cast<size_t>(t)], n);
    const auto [h_next, c_next] = cell(x, linear(h.narrow(0, 0, n), s.w_hh, s.b_hh),
                                       lstm ? c.narrow(0, 0, n) : h.narrow(0, 0, n));
    h = keep_rest(h_next, h, n);
    if (lstm) c = keep_rest(c_next, c, n);
    outputs[static_cast<size_t>(t)] = h_next;
  }
  return {cat(outputs, 0), h, c};
}

std::vector<Tensor> lstm_composed(const Sequence& s, bool reverse) {
  return composed(s, reverse, true, [](const Tensor& x, const Tensor& hid, const Tensor& c) {
    return lstm_cell_pointwise(x, hid, c);
  });
}
std::vector<Tensor> gru_composed(const Sequence& s, bool reverse) {
  return composed(s, reverse, false, [](const Tensor& x, const Tensor& hid, const Tensor& h) {
    return std::tuple{gru_cell_pointwise(x, hid, h), Tensor()};
  });
}
std::vector<Tensor> lstm_fused(const Sequence& s, bool reverse) {
  const auto [out, h, c] = lstm_sequence(s.projected, s.sizes, s.h0, s.c0, s.w_hh, s.b_hh, reverse);
  return {out, h, c};
}
std::vector<Tensor> gru_fused(const Sequence& s, bool reverse) {
  const auto [out, h] = gru_sequence(s.projected, s.sizes, s.h0, s.w_hh, s.b_hh, reverse);
  return {out, h, s.c0 * 0.0};  // c0's gradient: zeros, as the composition's (which ignores it)
}

// The gradients of a weighted sum of the results with respect to every input (set to none first).
std::vector<Tensor> gradients(const Sequence& s, const std::vector<Tensor>& results) {
  for (const Tensor& t : s.all())
    if (t.defined()) t.set_grad(Tensor());
  Tensor loss = zeros({}, s.h0.dtype());
  double scale = 1.0;
  for (const Tensor& r : results) {
    loss = loss + (r * r).sum() * scale;
    scale *= 0.5;
  }
  loss.backward();
  std::vector<Tensor> grads;
  for (const Tensor& t : s.all()) grads.push_back(t.defined() ? t.grad() : Tensor());
  return grads;
}

}  // namespace

namespace {

// lstm_sequence and gru_sequence against the composition: packed steps (a shrinking batch) or a
// padded batch (every step all rows: the path without copies), in one direction.
void check_against_composition(DType dtype, bool reverse, bool bias, bool packed) {
  const Sequence lstm =
      make_sequence(4, 3, packed ? Shape{4, 4, 3, 1, 1} : Shape{4, 4, 4}, dtype, bias);
  const Sequence gru =
      make_sequence(3, 5, packed ? Shape{3, 2, 2} : Shape{3, 3, 3, 3}, dtype, bias);
  const std::vector<Tensor> lstm_a = lstm_fused(lstm, reverse);
  const std::vector<Tensor> lstm_b = lstm_composed(lstm, reverse);
  const std::vector<Tensor> gru_a = gru_fused(gru, reverse), gru_b = gru_composed(gru, reverse);
  for (size_t i = 0; i < 3; ++i) {  // the same kernels, step by step: the same bits
    CHECK(same_bits(lstm_a[i], lstm_b[i]));
    if (i < 2) CHECK(same_bits(gru_a[i], gru_b[i]));
  }
  const std::vector<Tensor> lstm_ga = gradients(lstm, lstm_a), lstm_gb = gradients(lstm, lstm_b);
  const std::vector<Tensor> gru_ga = gradients(gru, gru_a), gru_gb = gradients(gru, gru_b);
  const double tol = dtype == kFloat64 ? 1e-12 : dtype == kFloat32 ? 2e-5 : 3e-2;
  for (size_t i = 0; i < lstm_ga.size(); ++i) {
    CAPTURE(i);
    REQUIRE(lstm_ga[i].defined() == lstm_gb[i].defined());
    if (!lstm_ga[i].defined()) continue;
    CHECK(lstm_ga[i].dtype() == dtype);
    // an LSTM's state gradients take the composition's roundings in every dtype; only the
    // recurrent weight's and bias's sums over the steps differ (i = 3, 4)
    if (i < 3 && dtype != kFloat64) CHECK(same_bits(lstm_ga[i], lstm_gb[i]));
    expect_close(values(lstm_ga[i]), values(lstm_gb[i]), tol, tol);
    if (gru_ga[i].defined() && i != 2) expect_close(values(gru_ga[i]), values(gru_gb[i]), tol, tol);
  }
}

}  // namespace

TEST_CASE("lstm_sequence and gru_sequence: the step-by-step composition, values and gradients") {
  manual_seed(160);
  for (const DType dtype : {kFloat64, kFloat32, kBFloat16}) {
    for (const bool reverse : {false, true}) {
      for (const bool bias : {true, false}) {
        for (const bool packed : {true, false}) {
          CAPTURE(dtype);
          CAPTURE(reverse);
          CAPTURE(bias);
          CAPTURE(packed);
          check_against_composition(dtype, reverse, bias, packed);
        }
      }
    }
  }
}

TEST_CASE("lstm_sequence and gru_sequence: gradcheck in fp64, packed and padded, both directions") {
  manual_seed(161);
  for (const bool reverse : {false, true}) {
    CAPTURE(reverse);
    for (const Shape& sizes : {Shape{3, 2, 2, 1}, Shape{3, 3, 3}}) {
      CAPTURE(sizes.size());
      const Sequence lstm = make_sequence(4, 2, sizes, kFloat64);
      check_grad(
          [&](const std::vector<Tensor>& in) {
            const auto [out, h, c] =
                lstm_sequence(in[0], lstm.sizes, in[1], in[2], in[3], in[4], reverse);
            return cat({out.flatten(), h.flatten() * 2.0, c.flatten() * 3.0});
          },
          lstm.all());
      const Sequence gru = make_sequence(3, 2, sizes, kFloat64);
      check_grad(
          [&](const std::vector<Tensor>& in) {
            const auto [out, h] = gru_sequence(in[0], gru.sizes, in[1], in[2], in[3], reverse);
            return cat({out.flatten(), h.flatten() * 2.0});
          },
          {gru.projected, gru.h0, gru.w_hh, gru.b_hh});
    }
  }
}

namespace {

// sum over every element of |a - b| / (|b| + tiny)
double relative_error(const Tensor& a, const Tensor& exact) {
  const std::vector<double> x = values(a), y = values(exact);
  double sum = 0.0;
  for (size_t i = 0; i < x.size(); ++i) sum += std::abs(x[i] - y[i]) / (std::abs(y[i]) + 1e-30);
  return sum;
}

}  // namespace

TEST_CASE("lstm_sequence in bf16: the recurrent weight's gradient summed in float, rounded once") {
  manual_seed(162);
  const int64_t steps = 32, batch = 8, hidden = 8;
  const Sequence s =
      make_sequence(4, hidden, std::vector<int64_t>(static_cast<size_t>(steps), batch), kBFloat16);
  const std::vector<Tensor> fused = lstm_fused(s, false);
  gradients(s, fused);
  const Tensor fused_w = s.w_hh.grad(), fused_b = s.b_hh.grad();
  // what it summed: each step's gate gradient (projected's, in bf16) times the state it started
  // from (h0, then the outputs), exactly, in double
  const Tensor h_prev = cat({s.h0, fused[0].narrow(0, 0, (steps - 1) * batch)}, 0).to(kFloat64);
  const Tensor dgates = s.projected.grad().to(kFloat64);
  const Tensor exact_w = matmul(dgates.t(), h_prev), exact_b = dgates.sum({0});
  // within half a bf16 ulp (at most 2^-8 relative) of the exact sum, and float's rounding of it
  const auto within_half_ulp = [](const Tensor& got, const Tensor& exact) {
    const std::vector<double> x = values(got), y = values(exact);
    for (size_t i = 0; i < x.size(); ++i)
      if (std::abs(x[i] - y[i]) > std::ldexp(std::abs(y[i]), -8) * (1 + 1e-5) + 1e-30) return false;
    return true;
  };
  CHECK(within_half_ulp(fused_w, exact_w));
  CHECK(within_half_ulp(fused_b, exact_b));
  // the step-by-step tape sums 32 bf16 products in bf16: further from the exact sum
  gradients(s, lstm_composed(s, false));
  CHECK(relative_error(s.w_hh.grad(), exact_w) > 2.0 * relative_error(fused_w, exact_w));
  CHECK(relative_error(s.b_hh.grad(), exact_b) > 2.0 * relative_error(fused_b, exact_b));
}

TEST_CASE("lstm_sequence and gru_sequence: tape, no grad, one result used, errors") {
  manual_seed(163);
  const Sequence s = make_sequence(4, 3, {2, 2, 1}, kFloat32);
  const auto [out, h, c] = lstm_sequence(s.projected, s.sizes, s.h0, s.c0, s.w_hh, s.b_hh);
  CHECK(out.grad_fn()->name() == "LstmSequenceBackward");
  CHECK(h.grad_fn() == out.grad_fn());
  {
    const NoGradGuard no_grad;
    const auto [out2, h2, c2] = lstm_sequence(s.projected, s.sizes, s.h0, s.c0, s.w_hh, s.b_hh);
    CHECK(!out2.grad_fn());
    CHECK(same_bits(out2, out));
    CHECK(same_bits(c2, c));
  }
  for (const bool reverse : {false, true}) {  // a padded batch without a tape: the same bits
    const Sequence padded = make_sequence(3, 4, {2, 2, 2}, kFloat32);
    const auto [taped, h_taped] =
        gru_sequence(padded.projected, padded.sizes, padded.h0, padded.w_hh, padded.b_hh, reverse);
    const NoGradGuard no_grad;
    const auto [plain, h_plain] =
        gru_sequence(padded.projected, padded.sizes, padded.h0, padded.w_hh, padded.b_hh, reverse);
    CHECK(same_bits(plain, taped));
    CHECK(same_bits(h_plain, h_taped));
  }
  // only c_n reaches the loss: the others' gradients are none, not zeros computed
  c.sum().backward();
  const std::vector<Tensor> composed_results = lstm_composed(s, false);
  const Tensor w_grad = s.w_hh.grad();
  s.w_hh.set_grad(Tensor());
  composed_results[2].sum().backward();
  expect_close(values(w_grad), values(s.w_hh.grad()), 1e-5, 1e-5);
  expect_error([&] { c.sum().backward(); }, {"LstmSequenceBackward", "second time"});

  const Sequence g = make_sequence(3, 3, {2, 2}, kFloat32);
  const auto [gout, gh] = gru_sequence(g.projected, g.sizes, g.h0, g.w_hh, g.b_hh);
  CHECK(gout.grad_fn()->name() == "GruSequenceBackward");
  expect_error(
      [&] {
        gru_sequence(g.projected, {2, 3}, g.h0, g.w_hh, g.b_hh);
      },
      {"gru_sequence", "non-increasing", "[2, 3]"});
  expect_error(
      [&] {
        gru_sequence(g.projected, {2, 1}, g.h0, g.w_hh, g.b_hh);
      },
      {"gru_sequence", "[2, 1]", "add up", "[4, 9]"});
  expect_error([&] { gru_sequence(g.projected, {}, g.h0, g.w_hh, g.b_hh); },
               {"gru_sequence", "one or more steps"});
  expect_error(
      [&] {
        gru_sequence(g.projected, {2, 2}, g.h0, g.w_hh.t(), g.b_hh);
      },
      {"gru_sequence", "w_hh [3 H, H]", "[3, 9]"});
  expect_error(
      [&] {
        gru_sequence(g.projected, {2, 2}, g.h0.to(kFloat64), g.w_hh, g.b_hh);
      },
      {"gru_sequence", "one dtype", "float64"});
  expect_error([&] { lstm_sequence(s.projected, s.sizes, s.h0, Tensor(), s.w_hh, s.b_hh); },
               {"lstm_sequence", "undefined"});
}

TEST_CASE(
    "nn::LSTM and nn::GRU record one node per layer and direction (not with proj_size), empty "
    "batches") {
  manual_seed(164);
  const auto tape_of = [](const Tensor& y) {
    std::ostringstream text;
    autograd::print_tape(y, text);
    return text.str();
  };
  const Tensor x = randn({5, 2, 3});
  nn::LSTM lstm(nn::LSTMOptions(3, 4).num_layers(2).bidirectional(true));
  const std::string lstm_tape = tape_of(std::get<0>(lstm.forward(x)).sum());
  CHECK(lstm_tape.find("LstmSequenceBackward") != std::string::npos);
  CHECK(lstm_tape.find("LstmCellBackward") == std::string::npos);
  nn::GRU gru(nn::GRUOptions(3, 4));
  CHECK(tape_of(std::get<0>(gru.forward(x)).sum()).find("GruSequenceBackward") !=
        std::string::npos);
  // a batch of no sequences: an empty output; no steps: an error that names the layer
  CHECK(std::get<0>(lstm.forward(randn({5, 0, 3}))).sizes() == Shape{5, 0, 8});
  CHECK(std::get<0>(gru.forward(randn({5, 0, 3}))).sizes() == Shape{5, 0, 4});
  expect_error(
      [&] {
        lstm.forward(randn({0, 2, 3}));
      },
      {"LSTM(3, 4, num_layers=2, bidirectional=true)", "at least one step", "[0, 2, 3]"});
  nn::LSTM projected(nn::LSTMOptions(3, 4).proj_size(2));
  CHECK(tape_of(std::get<0>(projected.forward(x)).sum()).find("LstmCellBackward") !=
        std::string::npos);
}
