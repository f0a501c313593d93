#pragma once
// Recurrent layers as torch.nn has them: LSTM, GRU and RNN over a whole sequence, with layers,
// bidirectionality, inter-layer dropout, batch_first and PyTorch's parameter names
// ("weight_ih_l0", "bias_hh_l1_reverse", ...) and gate order (LSTM i, f, g, o; GRU r, z, n), so
// state dicts map one to one; and their single steps, LSTMCell, GRUCell and RNNCell. Each step is
// a matrix product and a fused pointwise kernel (autograd/recurrent_ops.h), on every backend; an
// LSTM's (without proj_size) or GRU's layer direction records its steps as one node
// (lstm_sequence, gru_sequence), whose backward takes the recurrent weight's gradient of all
// steps in one product.
// Under autocast the input and initial states are cast to the lower precision once (torch lists
// lstm_cell and gru_cell there), so the whole recurrence runs in it.
//
//   nn::LSTM lstm(nn::LSTMOptions(32, 64).num_layers(2).batch_first(true));
//   auto [output, state] = lstm.forward(x);        // x [N, L, 32] -> output [N, L, 64]
//   auto [h_n, c_n] = state;                       // [num_layers, N, 64] each
//
// Batches of sequences of different lengths go in packed (nn/packed_sequence.h): the layers then
// skip each sequence's padding, and its final state is the one after its own last step.
//
// The input projections of all time steps are one linear per layer and direction; the
// recurrent product runs once per step, and in backward the recurrent weight's gradient is one
// product over all steps (but with proj_size, or for RNN, which tape each step).
#include <optional>
#include <tuple>
#include <vector>

#include "halfgrad/nn/module.h"
#include "halfgrad/nn/packed_sequence.h"

namespace hg::nn {

struct RecurrentOptions {
  RecurrentOptions(int64_t input, int64_t hidden) : input_size(input), hidden_size(hidden) {}
  // clang-format off
  RecurrentOptions& num_layers(int64_t n) { num_layers_ = n; return *this; }
  RecurrentOptions& bias(bool b) { bias_ = b; return *this; }
  RecurrentOptions& batch_first(bool b) { batch_first_ = b; return *this; }
  // dropout on each layer's output but the last's, in training
  RecurrentOptions& dropout(double p) { dropout_ = p; return *this; }
  RecurrentOptions& bidirectional(bool b) { bidirectional_ = b; return *this; }
  // LSTM only: h projected to proj_size (< hidden_size) by weight_hr after each step, as torch's
  // LSTM(..., proj_size=p): h, the output and h_0/h_n have p features, c keeps hidden_size
  RecurrentOptions& proj_size(int64_t p) { proj_size_ = p; return *this; }
  // clang-format on
  // h's width: proj_size when set, else hidden_size
  int64_t state_size() const { return proj_size_ > 0 ? proj_size_ : hidden_size; }
  int64_t input_size, hidden_size;
  int64_t proj_size_ = 0;
  int64_t num_layers_ = 1;
  bool bias_ = true;
  bool batch_first_ = false;
  double dropout_ = 0.0;
  bool bidirectional_ = false;
};
using LSTMOptions = RecurrentOptions;
using GRUOptions = RecurrentOptions;

// What LSTM and GRU share: the parameters (uniform in +-1 / sqrt(hidden_size), as torch) and the
// loop over layers, directions and time steps.
class RecurrentBase : public Module {
 public:
  void reset_parameters();
  std::string describe() const override;
  int64_t directions() const { return options.bidirectional_ ? 2 : 1; }

  RecurrentOptions options;

 protected:
  // gates: 4 for LSTM, 3 for GRU, 1 for RNN.
  RecurrentBase(std::string name, const RecurrentOptions& opts, int64_t gates);
  // The recurrent state of one layer and direction: h, and c for an LSTM (undefined for a GRU).
  struct State {
    Tensor h, c;
  };
  // One time step: the input's projection x W_ih^T + b_ih [N, gates * H] and the previous state
  // -> the next state.
  virtual State cell(const Tensor& projected, const State& state, const Tensor& w_hh,
                     const Tensor& b_hh) const = 0;
  // Runs the whole stack: input as the caller gave it, initial states [layers * directions, N,
  // H] (c undefined for a GRU) -> the output in the caller's layout and the final states.
  std::tuple<Tensor, State> run(const Tensor& input, const State& initial) const;
  // The same over packed sequences: initial and final states in the caller's batch order.
  std::tuple<utils::rnn::PackedSequence, State> run(const utils::rnn::PackedSequence& input,
                                                    const State& initial) const;

 private:
  struct LayerWeights {
    Tensor w_ih, w_hh, b_ih, b_hh, w_hr;  // w_hr: an LSTM's projection, when proj_size is set
  };
  // The time steps of one batch: how many sequences run at each (all N for a padded batch; the
  // running ones first, their rows one after the other in the time-major rows).
  struct Steps {
    std::vector<int64_t> batch_sizes;
    int64_t batch;
  };
  // one per layer and direction, in torch's order: layer 0 forward, layer 0 reverse, layer 1 ...
  std::vector<LayerWeights> weights_;
  bool cell_state_;  // an LSTM's c next to h
  int64_t gates_;    // 4 LSTM, 3 GRU, 1 RNN
  // rows [sum(batch_sizes), features] -> the last layer's rows [.., directions * H]; final_state
  // gets h_n (and c_n) [layers * directions, N, H].
  Tensor run_layers(Tensor rows, const Steps& steps, const State& initial,
                    State& final_state) const;
  Tensor run_direction(const Tensor& rows, const Steps& steps, const LayerWeights& w, State& state,
                       bool reverse) const;
  // run_direction's steps as one node (lstm_sequence, gru_sequence), from the projected rows
  Tensor run_sequence(const Tensor& projected, const Steps& steps, const LayerWeights& w,
                      State& state, bool reverse) const;
  Tensor batch_major_input(const Tensor& input) const;
  State initial_state(const State& given, int64_t batch, const Tensor& like) const;
};

// input [L, N, input_size] ([N, L, input_size] with batch_first; unbatched [L, input_size]),
// hx = (h_0, c_0), each [num_layers * directions, N, hidden_size] (zeros when not given) ->
// (output [L, N, directions * hidden_size], (h_n, c_n)); with proj_size, h_0, h_n and the output
// have proj_size features where they have hidden_size here.
class LSTM : public RecurrentBase {
 public:
  explicit LSTM(const LSTMOptions& opts) : RecurrentBase("LSTM", opts, 4) {}
  LSTM(int64_t input_size, int64_t hidden_size) : LSTM(LSTMOptions(input_size, hidden_size)) {}
  std::tuple<Tensor, std::tuple<Tensor, Tensor>> forward(
      const Tensor& input, const std::optional<std::tuple<Tensor, Tensor>>& hx = std::nullopt);
  // packed sequences in, packed sequences out (h_0, c_0, h_n and c_n in the caller's order)
  std::tuple<utils::rnn::PackedSequence, std::tuple<Tensor, Tensor>> forward(
      const utils::rnn::PackedSequence& input,
      const std::optional<std::tuple<Tensor, Tensor>>& hx = std::nullopt);

 private:
  using Module::forward;  // the unary forward (an error here): not for callers
  State cell(const Tensor& projected, const State& state, const Tensor& w_hh,
             const Tensor& b_hh) const override;
  static State given_state(const std::optional<std::tuple<Tensor, Tensor>>& hx);
};

// The same layout with one state: hx = h_0 -> (output, h_n).
class GRU : public RecurrentBase {
 public:
  explicit GRU(const GRUOptions& opts) : RecurrentBase("GRU", opts, 3) {}
  GRU(int64_t input_size, int64_t hidden_size) : GRU(GRUOptions(input_size, hidden_size)) {}
  std::tuple<Tensor, Tensor> forward(const Tensor& input, const Tensor& hx = Tensor());
  std::tuple<utils::rnn::PackedSequence, Tensor> forward(const utils::rnn::PackedSequence& input,
                                                         const Tensor& hx = Tensor());

 private:
  using Module::forward;
  State cell(const Tensor& projected, const State& state, const Tensor& w_hh,
             const Tensor& b_hh) const override;
};

enum class RNNNonlinearity { Tanh, ReLU };
using RNNOptions = RecurrentOptions;

// The Elman RNN, h' = tanh (or relu)(x W_ih^T + b_ih + h W_hh^T + b_hh), in GRU's layout.
class RNN : public RecurrentBase {
 public:
  explicit RNN(const RNNOptions& opts, RNNNonlinearity nonlinearity = RNNNonlinearity::Tanh)
      : RecurrentBase("RNN", opts, 1), nonlinearity_(nonlinearity) {}
  RNN(int64_t input_size, int64_t hidden_size) : RNN(RNNOptions(input_size, hidden_size)) {}
  std::tuple<Tensor, Tensor> forward(const Tensor& input, const Tensor& hx = Tensor());
  std::tuple<utils::rnn::PackedSequence, Tensor> forward(const utils::rnn::PackedSequence& input,
                                                         const Tensor& hx = Tensor());
  std::string describe() const override;

 private:
  using Module::forward;
  State cell(const Tensor& projected, const State& state, const Tensor& w_hh,
             const Tensor& b_hh) const override;
  RNNNonlinearity nonlinearity_;
};

// ---- single steps: torch.nn.LSTMCell, GRUCell, RNNCell ----

struct RecurrentCellOptions {
  RecurrentCellOptions(int64_t input, int64_t hidden) : input_size(input), hidden_size(hidden) {}
  RecurrentCellOptions& bias(bool b) {
    bias_ = b;
    return *this;
  }
  int64_t input_size, hidden_size;
  bool bias_ = true;
};
using LSTMCellOptions = RecurrentCellOptions;
using GRUCellOptions = RecurrentCellOptions;
using RNNCellOptions = RecurrentCellOptions;

// One step of the layers above, for loops the caller writes (teacher forcing, decoding): input
// [N, input_size] (or unbatched [input_size]), states [N, hidden_size] (zeros when not given).
// Parameters weight_ih, weight_hh, bias_ih, bias_hh, as torch names them.
class RecurrentCellBase : public Module {
 public:
  void reset_parameters();
  std::string describe() const override;

  Tensor weight_ih, weight_hh, bias_ih, bias_hh;
  RecurrentCellOptions options;

 protected:
  RecurrentCellBase(std::string name, const RecurrentCellOptions& opts, int64_t gates);
  struct Prepared {
    Tensor projected, h, c;  // x W_ih^T + b_ih, the states batched
    bool unbatched;
  };
  Prepared prepare(const Tensor& input, const Tensor& h, const Tensor& c, bool wants_c) const;
};

// hx = (h, c) -> (h', c')
class LSTMCell : public RecurrentCellBase {
 public:
  explicit LSTMCell(const LSTMCellOptions& opts) : RecurrentCellBase("LSTMCell", opts, 4) {}
  LSTMCell(int64_t input_size, int64_t hidden_size)
      : LSTMCell(LSTMCellOptions(input_size, hidden_size)) {}
  std::tuple<Tensor, Tensor> forward(
      const Tensor& input, const std::optional<std::tuple<Tensor, Tensor>>& hx = std::nullopt);

 private:
  using Module::forward;
};

// h -> h'
class GRUCell : public RecurrentCellBase {
 public:
  explicit GRUCell(const GRUCellOptions& opts) : RecurrentCellBase("GRUCell", opts, 3) {}
  GRUCell(int64_t input_size, int64_t hidden_size)
      : GRUCell(GRUCellOptions(input_size, hidden_size)) {}
  Tensor forward(const Tensor& input, const Tensor& hx);
  Tensor forward(const Tensor& input) override { return forward(input, Tensor()); }
};

// h -> h'
class RNNCell : public RecurrentCellBase {
 public:
  explicit RNNCell(const RNNCellOptions& opts, RNNNonlinearity nonlinearity = RNNNonlinearity::Tanh)
      : RecurrentCellBase("RNNCell", opts, 1), nonlinearity_(nonlinearity) {}
  RNNCell(int64_t input_size, int64_t hidden_size)
      : RNNCell(RNNCellOptions(input_size, hidden_size)) {}
  Tensor forward(const Tensor& input, const Tensor& hx);
  Tensor forward(const Tensor& input) override { return forward(input, Tensor()); }

 private:
  RNNNonlinearity nonlinearity_;
};

}  // namespace hg::nn
