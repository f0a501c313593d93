#include "halfgrad/nn/rnn.h"

#include <cmath>
#include <sstream>
#include <string>

#include "halfgrad/amp/autocast.h"
#include "halfgrad/autograd/nn_ops.h"
#include "halfgrad/autograd/ops.h"
#include "halfgrad/core/error.h"
#include "halfgrad/core/factories.h"
#include "halfgrad/nn/init.h"

namespace hg::nn {

RecurrentBase::RecurrentBase(std::string name, const RecurrentOptions& opts, int64_t gates)
    : Module(std::move(name)), options(opts), cell_state_(gates == 4) {
  HG_CHECK(opts.input_size > 0 && opts.hidden_size > 0 && opts.num_layers_ >= 1, this->type_name(),
           ": input_size ", opts.input_size, ", hidden_size ", opts.hidden_size, " and num_layers ",
           opts.num_layers_, " must be positive");
  HG_CHECK(opts.dropout_ >= 0.0 && opts.dropout_ < 1.0, this->type_name(),
           ": dropout must be in [0, 1), got ", opts.dropout_);
  const int64_t h = opts.hidden_size;
  for (int64_t layer = 0; layer < opts.num_layers_; ++layer) {
    for (int64_t direction = 0; direction < directions(); ++direction) {
      const std::string suffix =
          "_l" + std::to_string(layer) + (direction == 1 ? "_reverse" : std::string());
      const int64_t in = layer == 0 ? opts.input_size : h * directions();
      LayerWeights w;
      w.w_ih = register_parameter("weight_ih" + suffix, empty({gates * h, in}));
      w.w_hh = register_parameter("weight_hh" + suffix, empty({gates * h, h}));
      if (opts.bias_) {
        w.b_ih = register_parameter("bias_ih" + suffix, empty({gates * h}));
        w.b_hh = register_parameter("bias_hh" + suffix, empty({gates * h}));
      }
      weights_.push_back(w);
    }
  }
  reset_parameters();
}

void RecurrentBase::reset_parameters() {
  const double bound = 1.0 / std::sqrt(static_cast<double>(options.hidden_size));
  for (const Tensor& p : parameters()) init::uniform_(p, -bound, bound);
}

std::string RecurrentBase::describe() const {
  std::ostringstream out;
  out << type_name() << "(" << options.input_size << ", " << options.hidden_size;
  if (options.num_layers_ != 1) out << ", num_layers=" << options.num_layers_;
  if (!options.bias_) out << ", bias=false";
  if (options.batch_first_) out << ", batch_first=true";
  if (options.dropout_ != 0.0) out << ", dropout=" << options.dropout_;
  if (options.bidirectional_) out << ", bidirectional=true";
  out << ")";
  return out.str();
}

// [L, N, input_size], whatever the caller's layout (unbatched: a batch of one).
Tensor RecurrentBase::batch_major_input(const Tensor& input) const {
  HG_CHECK(input.defined() && (input.dim() == 3 || input.dim() == 2) &&
               input.size(-1) == options.input_size,
           describe(), ": expected input [L, N, ", options.input_size, "] (",
           options.batch_first_ ? "[N, L, E] with batch_first" : "or [N, L, E] with batch_first",
           ", or unbatched [L, E]), got ", input.defined() ? hg::describe(input) : "undefined");
  HG_CHECK(input.is_floating_point(), describe(), ": expected a floating-point input, got ",
           hg::describe(input));
  if (input.dim() == 2) return input.unsqueeze(1);
  return options.batch_first_ ? input.transpose(0, 1) : input;
}

RecurrentBase::State RecurrentBase::initial_state(const State& given, const Tensor& x) const {
  const Shape shape{options.num_layers_ * directions(), x.size(1), options.hidden_size};
  const auto prepare = [&](const Tensor& t, const char* name) {
    if (!t.defined()) return zeros(shape, TensorOptions(x.dtype()).device(x.device()));
    const Tensor batched = t.dim() == 2 ? t.unsqueeze(1) : t;
    HG_CHECK(batched.sizes() == shape, describe(), ": expected ", name, " ", shape_str(shape),
             ", got ", hg::describe(t));
    return batched;
  };
  return {prepare(given.h, "h_0"), cell_state_ ? prepare(given.c, "c_0") : Tensor()};
}

Tensor RecurrentBase::run_direction(const Tensor& x, const LayerWeights& w, State& state,
                                    bool reverse) const {
  const Tensor projected = linear(x, w.w_ih, w.b_ih);  // [L, N, gates * H], every step at once
  const int64_t steps = x.size(0);
  std::vector<Tensor> outputs(static_cast<size_t>(steps));
  for (int64_t i = 0; i < steps; ++i) {
    const int64_t t = reverse ? steps - 1 - i : i;
    state = cell(projected.select(0, t), state, w.w_hh, w.b_hh);
    outputs[static_cast<size_t>(t)] = state.h;
  }
  return stack(outputs, 0);
}

std::tuple<Tensor, RecurrentBase::State> RecurrentBase::run(const Tensor& input,
                                                            const State& given) const {
  const auto cast = amp::autocast(amp::OpId::Recurrent, {input, given.h, given.c});
  Tensor x = batch_major_input(cast[0]);
  const State initial = initial_state({cast[1], cast[2]}, x);
  std::vector<Tensor> h_n, c_n;
  for (int64_t layer = 0; layer < options.num_layers_; ++layer) {
    std::vector<Tensor> outputs;
    for (int64_t direction = 0; direction < directions(); ++direction) {
      const int64_t index = layer * directions() + direction;
      State state{initial.h.select(0, index),
                  initial.c.defined() ? initial.c.select(0, index) : Tensor()};
      outputs.push_back(
          run_direction(x, weights_[static_cast<size_t>(index)], state, direction == 1));
      h_n.push_back(state.h);
      if (state.c.defined()) c_n.push_back(state.c);
    }
    x = outputs.size() == 1 ? outputs[0] : cat(outputs, -1);
    const bool last = layer + 1 == options.num_layers_;
    if (!last && options.dropout_ > 0.0) x = dropout(x, options.dropout_, is_training());
  }
  State final_state{stack(h_n, 0), c_n.empty() ? Tensor() : stack(c_n, 0)};
  if (input.dim() == 2) {
    x = x.squeeze(1);
    final_state.h = final_state.h.squeeze(1);
    if (final_state.c.defined()) final_state.c = final_state.c.squeeze(1);
  } else if (options.batch_first_) {
    x = x.transpose(0, 1);
  }
  return {x, final_state};
}

// ---- LSTM ----

RecurrentBase::State LSTM::cell(const Tensor& projected, const State& state, const Tensor& w_hh,
                                const Tensor& b_hh) const {
  const std::vector<Tensor> gates = chunk(projected + linear(state.h, w_hh, b_hh), 4, -1);
  const Tensor input_gate = sigmoid(gates[0]), forget_gate = sigmoid(gates[1]);
  const Tensor candidate = tanh(gates[2]), output_gate = sigmoid(gates[3]);
  const Tensor c = forget_gate * state.c + input_gate * candidate;
  return {output_gate * tanh(c), c};
}

std::tuple<Tensor, std::tuple<Tensor, Tensor>> LSTM::forward(
    const Tensor& input, const std::optional<std::tuple<Tensor, Tensor>>& hx) {
  State given;
  if (hx) given = {std::get<0>(*hx), std::get<1>(*hx)};
  auto [output, state] = run(input, given);
  return {output, {state.h, state.c}};
}

// ---- GRU ----

RecurrentBase::State GRU::cell(const Tensor& projected, const State& state, const Tensor& w_hh,
                               const Tensor& b_hh) const {
  const std::vector<Tensor> x = chunk(projected, 3, -1);
  const std::vector<Tensor> h = chunk(linear(state.h, w_hh, b_hh), 3, -1);
  const Tensor reset = sigmoid(x[0] + h[0]), update = sigmoid(x[1] + h[1]);
  const Tensor candidate = tanh(x[2] + reset * h[2]);
  return {(1.0 - update) * candidate + update * state.h, Tensor()};
}

std::tuple<Tensor, Tensor> GRU::forward(const Tensor& input, const Tensor& hx) {
  auto [output, state] = run(input, State{hx, Tensor()});
  return {output, state.h};
}

}  // namespace hg::nn
