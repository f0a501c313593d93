#include "halfgrad/nn/rnn.h"

#include <cmath>
#include <sstream>
#include <string>

#include "halfgrad/amp/autocast.h"
#include "halfgrad/autograd/nn_ops.h"
#include "halfgrad/autograd/ops.h"
#include "halfgrad/autograd/recurrent_ops.h"
#include "halfgrad/core/error.h"
#include "halfgrad/core/factories.h"
#include "halfgrad/nn/init.h"

namespace hg::nn {

RecurrentBase::RecurrentBase(std::string name, const RecurrentOptions& opts, int64_t gates)
    : Module(std::move(name)), options(opts), cell_state_(gates == 4), gates_(gates) {
  HG_CHECK(opts.input_size > 0 && opts.hidden_size > 0 && opts.num_layers_ >= 1, this->type_name(),
           ": input_size ", opts.input_size, ", hidden_size ", opts.hidden_size, " and num_layers ",
           opts.num_layers_, " must be positive");
  HG_CHECK(opts.dropout_ >= 0.0 && opts.dropout_ < 1.0, this->type_name(),
           ": dropout must be in [0, 1), got ", opts.dropout_);
  HG_CHECK(opts.proj_size_ == 0 ||
               (gates == 4 && opts.proj_size_ > 0 && opts.proj_size_ < opts.hidden_size),
           this->type_name(), ": proj_size ", opts.proj_size_,
           gates == 4 ? " must be in [0, hidden_size " + std::to_string(opts.hidden_size) + ")"
                      : std::string(" is for LSTM only"));
  const int64_t h = opts.hidden_size, out = opts.state_size();
  for (int64_t layer = 0; layer < opts.num_layers_; ++layer) {
    for (int64_t direction = 0; direction < directions(); ++direction) {
      const std::string suffix =
          "_l" + std::to_string(layer) + (direction == 1 ? "_reverse" : std::string());
      const int64_t in = layer == 0 ? opts.input_size : out * directions();
      LayerWeights w;
      w.w_ih = register_parameter("weight_ih" + suffix, empty({gates * h, in}));
      w.w_hh = register_parameter("weight_hh" + suffix, empty({gates * h, out}));
      if (opts.bias_) {
        w.b_ih = register_parameter("bias_ih" + suffix, empty({gates * h}));
        w.b_hh = register_parameter("bias_hh" + suffix, empty({gates * h}));
      }
      if (opts.proj_size_ > 0)
        w.w_hr = register_parameter("weight_hr" + suffix, empty({opts.proj_size_, h}));
      weights_.push_back(w);
    }
  }
  reset_parameters();
}

namespace {

// torch's initialisation of the recurrent layers and cells: every parameter uniform in
// +-1 / sqrt(hidden_size)
void uniform_by_hidden_size(const Module& m, int64_t hidden_size) {
  const double bound = 1.0 / std::sqrt(static_cast<double>(hidden_size));
  for (const Tensor& p : m.parameters()) init::uniform_(p, -bound, bound);
}

}  // namespace

void RecurrentBase::reset_parameters() { uniform_by_hidden_size(*this, options.hidden_size); }

std::string RecurrentBase::describe() const {
  std::ostringstream out;
  out << type_name() << "(" << options.input_size << ", " << options.hidden_size;
  if (options.proj_size_ > 0) out << ", proj_size=" << options.proj_size_;
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
           describe(), ": expected input ", options.batch_first_ ? "[N, L, " : "[L, N, ",
           options.input_size, "] (or unbatched [L, ", options.input_size, "]), got ",
           input.defined() ? hg::describe(input) : "undefined");
  HG_CHECK(input.is_floating_point(), describe(), ": expected a floating-point input, got ",
           hg::describe(input));
  if (input.dim() == 2) return input.unsqueeze(1);
  return options.batch_first_ ? input.transpose(0, 1) : input;
}

RecurrentBase::State RecurrentBase::initial_state(const State& given, int64_t batch,
                                                  const Tensor& like) const {
  const auto prepare = [&](const Tensor& t, const char* name, int64_t width) {
    const Shape shape{options.num_layers_ * directions(), batch, width};
    if (!t.defined()) return zeros(shape, TensorOptions(like.dtype()).device(like.device()));
    const Tensor batched = t.dim() == 2 ? t.unsqueeze(1) : t;
    HG_CHECK(batched.sizes() == shape, describe(), ": expected ", name, " ", shape_str(shape),
             ", got ", hg::describe(t));
    return batched;
  };
  return {prepare(given.h, "h_0", options.state_size()),
          cell_state_ ? prepare(given.c, "c_0", options.hidden_size) : Tensor()};
}

// Step t updates the first batch_sizes[t] rows of the state (the sequences still running); the
// others keep theirs: a finished sequence its final state, one not yet started (reverse
// direction) its initial state.
Tensor RecurrentBase::run_direction(const Tensor& rows, const Steps& steps, const LayerWeights& w,
                                    State& state, bool reverse) const {
  // [rows, gates * H], every step at once
  const Tensor projected = linear(rows, w.w_ih, w.b_ih);
  // LSTM (but with proj_size) and GRU: one node; a batch of no sequences steps as RNN does
  if (gates_ > 1 && !w.w_hr.defined() && !steps.batch_sizes.empty() && steps.batch > 0)
    return run_sequence(projected, steps, w, state, reverse);
  // split into the steps (one backward node: one cat)
  const std::vector<Tensor> step_inputs = split(projected, steps.batch_sizes, 0);
  const int64_t count = static_cast<int64_t>(steps.batch_sizes.size());
  std::vector<Tensor> outputs(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) {
    const int64_t t = reverse ? count - 1 - i : i;
    const int64_t running = steps.batch_sizes[t];
    const Tensor& step_input = step_inputs[static_cast<size_t>(t)];
    const auto step = [&](const State& before) {
      State next = cell(step_input, before, w.w_hh, w.b_hh);
      if (w.w_hr.defined()) next.h = linear(next.h, w.w_hr);  // proj_size
      return next;
    };
    if (running == steps.batch) {
      state = step(state);
    } else {
      const auto running_part = [&](const Tensor& s) {
        return s.defined() ? s.narrow(0, 0, running) : s;
      };
      const State next = step({running_part(state.h), running_part(state.c)});
      const auto merge = [&](const Tensor& updated, const Tensor& s) {
        return s.defined() ? cat({updated, s.narrow(0, running, steps.batch - running)}, 0) : s;
      };
      state = {merge(next.h, state.h), merge(next.c, state.c)};
    }
    outputs[static_cast<size_t>(t)] =
        running == steps.batch ? state.h : state.h.narrow(0, 0, running);
  }
  return cat(outputs, 0);
}

Tensor RecurrentBase::run_sequence(const Tensor& projected, const Steps& steps,
                                   const LayerWeights& w, State& state, bool reverse) const {
  // the recurrent weight and bias as linear(h, w_hh, b_hh) would take them under autocast
  const auto cast = amp::autocast(amp::OpId::Linear, {projected, w.w_hh, w.b_hh});
  if (cell_state_) {
    auto [output, h, c] =
        lstm_sequence(cast[0], steps.batch_sizes, state.h, state.c, cast[1], cast[2], reverse);
    state = {h, c};
    return output;
  }
  auto [output, h] = gru_sequence(cast[0], steps.batch_sizes, state.h, cast[1], cast[2], reverse);
  state = {h, Tensor()};
  return output;
}

Tensor RecurrentBase::run_layers(Tensor rows, const Steps& steps, const State& initial,
                                 State& final_state) const {
  std::vector<Tensor> h_n, c_n;
  for (int64_t layer = 0; layer < options.num_layers_; ++layer) {
    std::vector<Tensor> outputs;
    for (int64_t direction = 0; direction < directions(); ++direction) {
      const int64_t index = layer * directions() + direction;
      State state{initial.h.select(0, index),
                  initial.c.defined() ? initial.c.select(0, index) : Tensor()};
      outputs.push_back(
          run_direction(rows, steps, weights_[static_cast<size_t>(index)], state, direction == 1));
      h_n.push_back(state.h);
      if (state.c.defined()) c_n.push_back(state.c);
    }
    rows = outputs.size() == 1 ? outputs[0] : cat(outputs, -1);
    const bool last = layer + 1 == options.num_layers_;
    if (!last && options.dropout_ > 0.0) rows = dropout(rows, options.dropout_, is_training());
  }
  final_state = {stack(h_n, 0), c_n.empty() ? Tensor() : stack(c_n, 0)};
  return rows;
}

std::tuple<Tensor, RecurrentBase::State> RecurrentBase::run(const Tensor& input,
                                                            const State& given) const {
  const auto cast = amp::autocast(amp::OpId::Recurrent, {input, given.h, given.c});
  const Tensor x = batch_major_input(cast[0]);  // [L, N, input_size]
  const int64_t length = x.size(0), batch = x.size(1);
  HG_CHECK(length > 0, describe(), ": expected a sequence of at least one step, got input ",
           hg::describe(input), options.batch_first_ ? " (batch_first)" : "");
  const Steps steps{std::vector<int64_t>(static_cast<size_t>(length), batch), batch};
  State final_state;
  Tensor output =
      run_layers(x.flatten(0, 1), steps, initial_state({cast[1], cast[2]}, batch, x), final_state)
          .view({length, batch, directions() * options.state_size()});
  if (input.dim() == 2) {
    output = output.squeeze(1);
    final_state.h = final_state.h.squeeze(1);
    if (final_state.c.defined()) final_state.c = final_state.c.squeeze(1);
  } else if (options.batch_first_) {
    output = output.transpose(0, 1);
  }
  return {output, final_state};
}

std::tuple<utils::rnn::PackedSequence, RecurrentBase::State> RecurrentBase::run(
    const utils::rnn::PackedSequence& input, const State& given) const {
  Steps steps{input.batch_size_vector(), 0};
  steps.batch = steps.batch_sizes[0];
  const auto cast = amp::autocast(amp::OpId::Recurrent, {input.data, given.h, given.c});
  const Tensor& rows = cast[0];
  HG_CHECK(rows.dim() == 2 && rows.size(1) == options.input_size && rows.is_floating_point(),
           describe(), ": expected packed floating-point data [rows, ", options.input_size,
           "], got ", hg::describe(rows));
  // the caller's batch order <-> the packed (sorted) order, on the batch dim of the states
  const auto reorder = [](const Tensor& state, const Tensor& order) {
    return state.defined() && order.defined() ? state.index_select(1, order) : state;
  };
  State initial = initial_state({cast[1], cast[2]}, steps.batch, rows);
  initial = {reorder(initial.h, input.sorted_indices), reorder(initial.c, input.sorted_indices)};
  State final_state;
  utils::rnn::PackedSequence output = input;
  output.data = run_layers(rows, steps, initial, final_state);
  final_state = {reorder(final_state.h, input.unsorted_indices),
                 reorder(final_state.c, input.unsorted_indices)};
  return {output, final_state};
}

// ---- one time step of each kind, shared by the layers and the cells ----

namespace {

// projected = x W_ih^T + b_ih [N, 4H]; gates i, f, g, o -> (h', c'), the pointwise part fused
std::tuple<Tensor, Tensor> lstm_step(const Tensor& projected, const Tensor& h, const Tensor& c,
                                     const Tensor& w_hh, const Tensor& b_hh) {
  return lstm_cell_pointwise(projected, linear(h, w_hh, b_hh), c);
}

// projected [N, 3H]; gates r, z, n (the reset gate scales the recurrent part of n, as torch)
Tensor gru_step(const Tensor& projected, const Tensor& h, const Tensor& w_hh, const Tensor& b_hh) {
  return gru_cell_pointwise(projected, linear(h, w_hh, b_hh), h);
}

// projected [N, H]
Tensor rnn_step(const Tensor& projected, const Tensor& h, const Tensor& w_hh, const Tensor& b_hh,
                RNNNonlinearity nonlinearity) {
  const Tensor pre = projected + linear(h, w_hh, b_hh);
  return nonlinearity == RNNNonlinearity::ReLU ? relu(pre) : tanh(pre);
}

}  // namespace

// ---- the layers ----

RecurrentBase::State LSTM::cell(const Tensor& projected, const State& state, const Tensor& w_hh,
                                const Tensor& b_hh) const {
  const auto [h, c] = lstm_step(projected, state.h, state.c, w_hh, b_hh);
  return {h, c};
}

RecurrentBase::State LSTM::given_state(const std::optional<std::tuple<Tensor, Tensor>>& hx) {
  return hx ? State{std::get<0>(*hx), std::get<1>(*hx)} : State{};
}

std::tuple<Tensor, std::tuple<Tensor, Tensor>> LSTM::forward(
    const Tensor& input, const std::optional<std::tuple<Tensor, Tensor>>& hx) {
  auto [output, state] = run(input, given_state(hx));
  return {output, {state.h, state.c}};
}

std::tuple<utils::rnn::PackedSequence, std::tuple<Tensor, Tensor>> LSTM::forward(
    const utils::rnn::PackedSequence& input, const std::optional<std::tuple<Tensor, Tensor>>& hx) {
  auto [output, state] = run(input, given_state(hx));
  return {output, {state.h, state.c}};
}

RecurrentBase::State GRU::cell(const Tensor& projected, const State& state, const Tensor& w_hh,
                               const Tensor& b_hh) const {
  return {gru_step(projected, state.h, w_hh, b_hh), Tensor()};
}

std::tuple<Tensor, Tensor> GRU::forward(const Tensor& input, const Tensor& hx) {
  auto [output, state] = run(input, State{hx, Tensor()});
  return {output, state.h};
}

std::tuple<utils::rnn::PackedSequence, Tensor> GRU::forward(const utils::rnn::PackedSequence& input,
                                                            const Tensor& hx) {
  auto [output, state] = run(input, State{hx, Tensor()});
  return {output, state.h};
}

RecurrentBase::State RNN::cell(const Tensor& projected, const State& state, const Tensor& w_hh,
                               const Tensor& b_hh) const {
  return {rnn_step(projected, state.h, w_hh, b_hh, nonlinearity_), Tensor()};
}

std::tuple<Tensor, Tensor> RNN::forward(const Tensor& input, const Tensor& hx) {
  auto [output, state] = run(input, State{hx, Tensor()});
  return {output, state.h};
}

std::tuple<utils::rnn::PackedSequence, Tensor> RNN::forward(const utils::rnn::PackedSequence& input,
                                                            const Tensor& hx) {
  auto [output, state] = run(input, State{hx, Tensor()});
  return {output, state.h};
}

std::string RNN::describe() const {
  std::string text = RecurrentBase::describe();
  if (nonlinearity_ == RNNNonlinearity::ReLU) text.insert(text.size() - 1, ", nonlinearity=relu");
  return text;
}

// ---- the cells ----

RecurrentCellBase::RecurrentCellBase(std::string name, const RecurrentCellOptions& opts,
                                     int64_t gates)
    : Module(std::move(name)), options(opts) {
  HG_CHECK(opts.input_size > 0 && opts.hidden_size > 0, this->type_name(), ": input_size ",
           opts.input_size, " and hidden_size ", opts.hidden_size, " must be positive");
  const int64_t h = opts.hidden_size;
  weight_ih = register_parameter("weight_ih", empty({gates * h, opts.input_size}));
  weight_hh = register_parameter("weight_hh", empty({gates * h, h}));
  if (opts.bias_) {
    bias_ih = register_parameter("bias_ih", empty({gates * h}));
    bias_hh = register_parameter("bias_hh", empty({gates * h}));
  }
  reset_parameters();
}

void RecurrentCellBase::reset_parameters() { uniform_by_hidden_size(*this, options.hidden_size); }

std::string RecurrentCellBase::describe() const {
  return type_name() + "(" + std::to_string(options.input_size) + ", " +
         std::to_string(options.hidden_size) + (options.bias_ ? ")" : ", bias=false)");
}

// The input [N, input_size] (or [input_size]) and states [N, H] after autocast, checked, batched;
// zeros for a state not given (c only when wanted).
RecurrentCellBase::Prepared RecurrentCellBase::prepare(const Tensor& input, const Tensor& h,
                                                       const Tensor& c, bool wants_c) const {
  const auto cast = amp::autocast(amp::OpId::Recurrent, {input, h, c});
  const Tensor& x = cast[0];
  HG_CHECK(x.defined() && (x.dim() == 1 || x.dim() == 2) && x.size(-1) == options.input_size &&
               x.is_floating_point(),
           describe(), ": expected a floating-point input [N, ", options.input_size, "] or [",
           options.input_size, "], got ", x.defined() ? hg::describe(x) : "undefined");
  const bool unbatched = x.dim() == 1;
  const Tensor batched = unbatched ? x.unsqueeze(0) : x;
  const Shape shape{batched.size(0), options.hidden_size};
  const auto state = [&](const Tensor& t, const char* name) {
    if (!t.defined()) return zeros(shape, TensorOptions(x.dtype()).device(x.device()));
    const Tensor s = unbatched && t.dim() == 1 ? t.unsqueeze(0) : t;
    HG_CHECK(s.sizes() == shape, describe(), ": expected ", name, " ", shape_str(shape), ", got ",
             hg::describe(t));
    return s;
  };
  return {linear(batched, weight_ih, bias_ih), state(cast[1], "h"),
          wants_c ? state(cast[2], "c") : Tensor(), unbatched};
}

std::tuple<Tensor, Tensor> LSTMCell::forward(const Tensor& input,
                                             const std::optional<std::tuple<Tensor, Tensor>>& hx) {
  const Prepared in =
      prepare(input, hx ? std::get<0>(*hx) : Tensor(), hx ? std::get<1>(*hx) : Tensor(), true);
  auto [h, c] = lstm_step(in.projected, in.h, in.c, weight_hh, bias_hh);
  if (in.unbatched) return {h.squeeze(0), c.squeeze(0)};
  return {h, c};
}

Tensor GRUCell::forward(const Tensor& input, const Tensor& hx) {
  const Prepared in = prepare(input, hx, Tensor(), false);
  const Tensor h = gru_step(in.projected, in.h, weight_hh, bias_hh);
  return in.unbatched ? h.squeeze(0) : h;
}

Tensor RNNCell::forward(const Tensor& input, const Tensor& hx) {
  const Prepared in = prepare(input, hx, Tensor(), false);
  const Tensor h = rnn_step(in.projected, in.h, weight_hh, bias_hh, nonlinearity_);
  return in.unbatched ? h.squeeze(0) : h;
}

}  // namespace hg::nn
