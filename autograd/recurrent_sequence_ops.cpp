// lstm_sequence and gru_sequence (autograd/recurrent_ops.h): one layer direction of an LSTM or
// GRU over all its time steps, recorded as one node, as cuDNN's and torch's fused RNN ops.
//
// Forward, per step: the recurrent product h W_hh^T + b_hh (the gemm_bias kernel, as linear)
// and the fused cell kernel, the composition's bits. Backward, per step: the cell's backward and
// the state's gradient (one gemm); then the recurrent weight's and bias's gradients of all steps
// in one product over every step's rows. The step-by-step tape did a product per step there, and
// summed the steps' gradients in the weight's dtype (in bf16 under autocast, one rounding per
// step); here they accumulate in float and are rounded once.
#include <algorithm>
#include <optional>
#include <utility>

#include "halfgrad/autograd/grad_mode.h"
#include "halfgrad/autograd/op_helpers.h"
#include "halfgrad/autograd/recurrent_ops.h"
#include "halfgrad/core/factories.h"
#include "halfgrad/kernels/recurrent_kernels.h"

namespace hg {

namespace {

using autograd::SavedTensor;
using kernels::view_of;

// The rows of one time step within the time-major rows: [offset, offset + count).
struct StepRows {
  int64_t offset = 0, count = 0;
};

// The steps in the order the recurrence runs them: last to first when reverse.
std::vector<StepRows> schedule(const std::vector<int64_t>& batch_sizes, bool reverse) {
  std::vector<StepRows> steps;
  int64_t offset = 0;
  for (const int64_t count : batch_sizes) {
    steps.push_back({offset, count});
    offset += count;
  }
  if (reverse) std::reverse(steps.begin(), steps.end());
  return steps;
}

Tensor rows_of(const Tensor& t, const StepRows& step) {
  return t.narrow(0, step.offset, step.count);
}
Tensor first_rows(const Tensor& t, int64_t count) { return t.narrow(0, 0, count); }

// projected [rows, G H], h0 (and c0) [N, H], w_hh [G H, H], b_hh [G H] or undefined, one
// floating dtype and device; batch_sizes non-increasing in [1, N], summing to rows.
void check_sequence(const char* op, const Tensor& projected, const std::vector<int64_t>& sizes,
                    const Tensor& h0, const Tensor& c0, const Tensor& w_hh, const Tensor& b_hh,
                    int64_t gates) {
  autograd::check_floating(h0, op);
  for (const Tensor* t : {&projected, &w_hh}) autograd::check_defined(*t, op);
  const int64_t hidden = h0.dim() == 2 ? h0.size(1) : -1, g = gates * hidden;
  const bool shapes = h0.dim() == 2 && projected.dim() == 2 && projected.size(1) == g &&
                      w_hh.dim() == 2 && w_hh.size(0) == g && w_hh.size(1) == hidden &&
                      (!c0.defined() || c0.sizes() == h0.sizes()) &&
                      (!b_hh.defined() || (b_hh.dim() == 1 && b_hh.size(0) == g));
  bool same = true;
  for (const Tensor* t : {&projected, &c0, &w_hh, &b_hh})
    same = same && (!t->defined() || (t->dtype() == h0.dtype() && t->device() == h0.device()));
  HG_CHECK(shapes && same, op, ": expected projected [rows, ", gates, " H], h0",
           c0.defined() ? " and c0" : "", " [N, H], w_hh [", gates, " H, H] and b_hh [", gates,
           " H], one dtype and device, got projected ", describe(projected), ", h0 ", describe(h0),
           c0.defined() ? ", c0 " + describe(c0) : std::string(), ", w_hh ", describe(w_hh),
           ", b_hh ", b_hh.defined() ? describe(b_hh) : std::string("undefined"));
  int64_t rows = 0, previous = h0.size(0);
  for (const int64_t count : sizes) {
    HG_CHECK(count >= 1 && count <= previous, op, ": batch_sizes must be non-increasing, in [1, ",
             h0.size(0), "] (the batch of h0 ", describe(h0), "), got ", shape_str(sizes));
    rows += count;
    previous = count;
  }
  HG_CHECK(!sizes.empty() && rows == projected.size(0), op, ": batch_sizes ", shape_str(sizes),
           " must be one or more steps whose rows add up to projected's ", describe(projected));
}

// out [b, G H] = h [b, H] W_hh^T + b_hh, as linear computes it.
void recurrent_product(const Tensor& h, const Tensor& w_hh, const Tensor& b_hh, const Tensor& out) {
  if (b_hh.defined()) {
    kernels::gemm_bias(h.device())(view_of(h), view_of(w_hh.t()), view_of(b_hh), view_of(out));
  } else {
    kernels::gemm(h.device())(view_of(h), view_of(w_hh.t()), view_of(out), false);
  }
}

// Where each step keeps what its backward reads: its rows of a [rows, width] tensor when the
// sequence is recorded, else the first rows of a [N, width] scratch reused by every step.
class StepStore {
 public:
  StepStore(bool recorded, int64_t rows, int64_t batch, int64_t width, DType dtype, Device device)
      : recorded_(recorded), data_(make_tensor({recorded ? rows : batch, width}, dtype, device)) {}
  Tensor at(const StepRows& step) const {
    return recorded_ ? rows_of(data_, step) : first_rows(data_, step.count);
  }
  const Tensor& all() const { return data_; }

 private:
  bool recorded_;
  Tensor data_;
};

// One state (h or c) over the steps: where each step reads the state it starts from and writes
// its new one. When every step runs all N rows (a padded batch), the steps' new states lie in
// time order in one [rows + N, H] buffer beside the initial state (before them, or after them for
// the reverse direction), so a step starts from the previous step's rows: no copies, and those
// rows in order are also what the backward reads. Packed steps keep the state in [N, H], copy
// each step's starting rows aside (what the backward reads) and its new rows out.
class StateHistory {
 public:
  // steps: whether steps() is wanted (h: the output; c: not)
  StateHistory(const Tensor& initial, int64_t rows, bool reverse, bool uniform, bool recorded,
               bool steps)
      : uniform_(uniform), batch_(initial.size(0)), shift_(reverse ? 0 : initial.size(0)) {
    const int64_t n = batch_, h = initial.size(1);
    if (uniform_) {
      all_ = make_tensor({rows + n, h}, initial.dtype(), initial.device());
      all_.narrow(0, reverse ? rows : 0, n).copy_(initial);
    } else {
      state_ = initial.contiguous().clone();
      if (steps) steps_ = make_tensor({rows, h}, initial.dtype(), initial.device());
      before_ = StepStore(recorded, rows, n, h, initial.dtype(), initial.device());
    }
  }
  // the state rows [0, count) before `step`
  Tensor before(const StepRows& step) {
    if (uniform_) return all_.narrow(0, step.offset + batch_ - shift_, batch_);
    return before_->at(step).copy_(first_rows(state_, step.count));
  }
  // where `step` writes its new state rows
  Tensor next(const StepRows& step) const {
    return uniform_ ? all_.narrow(0, step.offset + shift_, batch_) : first_rows(state_, step.count);
  }
  void finish(const StepRows& step) {  // packed: the new rows to the steps' output
    if (!uniform_) rows_of(steps_, step).copy_(first_rows(state_, step.count));
  }
  // [rows, H]: each step's new state in its rows
  Tensor steps() const { return uniform_ ? all_.narrow(0, shift_, all_.size(0) - batch_) : steps_; }
  // [rows, H]: the state each step started from, in its rows (for the backward)
  Tensor starts() const {
    return uniform_ ? all_.narrow(0, batch_ - shift_, all_.size(0) - batch_) : before_->all();
  }
  // [N, H]: each row's state after its last step
  Tensor final_state() const {
    if (!uniform_) return state_;
    return all_.narrow(0, shift_ == 0 ? 0 : all_.size(0) - batch_, batch_).clone();
  }

 private:
  bool uniform_;
  int64_t batch_, shift_;  // shift_: where the steps' rows begin in all_
  Tensor all_, state_, steps_;
  std::optional<StepStore> before_;
};

// The recurrent weight's and bias's gradients over every step at once: grad_hidden [rows, G H]
// and h_prev [rows, H] -> grad_hidden^T h_prev [G H, H] and grad_hidden's column sums [G H].
std::pair<Tensor, Tensor> recurrent_weight_grads(const Tensor& grad_hidden, const Tensor& h_prev,
                                                 bool want_weight, bool want_bias) {
  const Device device = grad_hidden.device();
  const int64_t g = grad_hidden.size(1);
  Tensor gw, gb;
  if (want_bias) {
    gw = make_tensor({g, h_prev.size(1)}, grad_hidden.dtype(), device);
    gb = make_tensor({g}, grad_hidden.dtype(), device);
    kernels::gemm_bias_grad(device)(view_of(grad_hidden.t()), view_of(h_prev), view_of(gw),
                                    view_of(gb));
  } else if (want_weight) {
    gw = make_tensor({g, h_prev.size(1)}, grad_hidden.dtype(), device);
    kernels::gemm(device)(view_of(grad_hidden.t()), view_of(h_prev), view_of(gw), false);
  }
  return {want_weight ? gw : Tensor(), gb};
}

// An incoming state gradient [N, H] as a new tensor to accumulate into (zeros when none came).
Tensor state_grad(const Tensor& grad, const Shape& shape, DType dtype, Device device) {
  if (!grad.defined()) return zeros(shape, TensorOptions(dtype).device(device));
  return autograd::grad_as(grad, dtype).clone();
}

// What every sequence node keeps: the steps, the rows each step started from, the weight.
struct SequenceSaved {
  std::vector<StepRows> order;
  SavedTensor h_prev, gates, w_hh;
  int64_t batch = 0, hidden = 0;
  bool uniform = false;  // every step runs all N rows (a padded batch)
  DType dtype = kFloat32;
  Device device;
};

class LstmSequenceBackward final : public autograd::Node {
 public:
  LstmSequenceBackward(SequenceSaved s, const Tensor& c_prev) : s_(std::move(s)), c_prev_(c_prev) {}
  std::string name() const override { return "LstmSequenceBackward"; }
  bool takes_undefined_grads() const override { return true; }
  bool release_saved() override {
    return autograd::release_all(s_.h_prev, s_.gates, s_.w_hh, c_prev_);
  }
  std::vector<Tensor> apply(const std::vector<Tensor>& grads) override {
    const Tensor &h_prev = s_.h_prev.unpack(*this), &c_prev = c_prev_.unpack(*this);
    const Tensor &gates = s_.gates.unpack(*this), &w_hh = s_.w_hh.unpack(*this);
    const Shape state{s_.batch, s_.hidden};
    const Tensor grad_out =
        grads[0].defined() ? autograd::grad_as(grads[0], s_.dtype).contiguous() : Tensor();
    Tensor dh = state_grad(grads[1], state, s_.dtype, s_.device);
    Tensor dc = state_grad(grads[2], state, s_.dtype, s_.device);
    Tensor grad_gates = make_tensor({h_prev.size(0), 4 * s_.hidden}, s_.dtype, s_.device);
    const Tensor dc_before = make_tensor(state, s_.dtype, s_.device);
    for (auto step = s_.order.rbegin(); step != s_.order.rend(); ++step) {
      Tensor dh_rows = first_rows(dh, step->count), dc_rows = first_rows(dc, step->count);
      if (grad_out.defined()) dh_rows.add_(rows_of(grad_out, *step));
      const Tensor step_grad_gates = rows_of(grad_gates, *step);
      kernels::lstm_cell_backward(s_.device)(
          view_of(dh_rows), view_of(dc_rows), view_of(rows_of(c_prev, *step)),
          view_of(rows_of(gates, *step)), view_of(step_grad_gates),
          view_of(first_rows(dc_before, step->count)));
      dc_rows.copy_(first_rows(dc_before, step->count));
      kernels::gemm(s_.device)(view_of(step_grad_gates), view_of(w_hh), view_of(dh_rows), false);
    }
    auto [gw, gb] =
        recurrent_weight_grads(grad_gates, h_prev, next_edges[3].active(), next_edges[4].active());
    return {grad_gates, dh, dc, gw, gb};
  }

 private:
  SequenceSaved s_;
  SavedTensor c_prev_;
};

class GruSequenceBackward final : public autograd::Node {
 public:
  explicit GruSequenceBackward(SequenceSaved s) : s_(std::move(s)) {}
  std::string name() const override { return "GruSequenceBackward"; }
  bool takes_undefined_grads() const override { return true; }
  bool release_saved() override { return autograd::release_all(s_.h_prev, s_.gates, s_.w_hh); }
  std::vector<Tensor> apply(const std::vector<Tensor>& grads) override {
    const Tensor &h_prev = s_.h_prev.unpack(*this), &gates = s_.gates.unpack(*this);
    const Tensor& w_hh = s_.w_hh.unpack(*this);
    const Shape state{s_.batch, s_.hidden}, gate_rows{h_prev.size(0), 3 * s_.hidden};
    const Tensor grad_out =
        grads[0].defined() ? autograd::grad_as(grads[0], s_.dtype).contiguous() : Tensor();
    Tensor dh = state_grad(grads[1], state, s_.dtype, s_.device);
    Tensor grad_input = make_tensor(gate_rows, s_.dtype, s_.device);
    Tensor grad_hidden = make_tensor(gate_rows, s_.dtype, s_.device);
    const Tensor dh_direct = make_tensor(state, s_.dtype, s_.device);
    for (auto step = s_.order.rbegin(); step != s_.order.rend(); ++step) {
      Tensor dh_rows = first_rows(dh, step->count);
      if (grad_out.defined()) dh_rows.add_(rows_of(grad_out, *step));
      const Tensor step_grad_hidden = rows_of(grad_hidden, *step);
      kernels::gru_cell_backward(s_.device)(
          view_of(dh_rows), view_of(rows_of(h_prev, *step)), view_of(rows_of(gates, *step)),
          view_of(rows_of(grad_input, *step)), view_of(step_grad_hidden),
          view_of(first_rows(dh_direct, step->count)));
      // h's gradient: its direct part (z h) plus the recurrent product's
      dh_rows.copy_(first_rows(dh_direct, step->count));
      kernels::gemm(s_.device)(view_of(step_grad_hidden), view_of(w_hh), view_of(dh_rows), true);
    }
    auto [gw, gb] =
        recurrent_weight_grads(grad_hidden, h_prev, next_edges[2].active(), next_edges[3].active());
    return {grad_input, dh, gw, gb};
  }

 private:
  SequenceSaved s_;
};

SequenceSaved sequence_saved(const std::vector<int64_t>& batch_sizes, bool reverse,
                             const Tensor& h0) {
  SequenceSaved s;
  s.order = schedule(batch_sizes, reverse);
  s.batch = h0.size(0);
  s.uniform = std::all_of(batch_sizes.begin(), batch_sizes.end(),
                          [&](int64_t count) { return count == s.batch; });
  s.hidden = h0.size(1);
  s.dtype = h0.dtype();
  s.device = h0.device();
  return s;
}

}  // namespace

std::tuple<Tensor, Tensor, Tensor> lstm_sequence(const Tensor& projected,
                                                 const std::vector<int64_t>& batch_sizes,
                                                 const Tensor& h0, const Tensor& c0,
                                                 const Tensor& w_hh, const Tensor& b_hh,
                                                 bool reverse) {
  autograd::check_defined(c0, "lstm_sequence");
  check_sequence("lstm_sequence", projected, batch_sizes, h0, c0, w_hh, b_hh, 4);
  SequenceSaved s = sequence_saved(batch_sizes, reverse, h0);
  const bool recorded = autograd::needs_grad({&projected, &h0, &c0, &w_hh, &b_hh});
  const NoGradGuard no_grad;  // the copies below are the op's own work, not taped
  const int64_t rows = projected.size(0), N = s.batch, H = s.hidden;
  const Tensor x = projected.contiguous(), w = w_hh.contiguous();
  const Tensor b = b_hh.defined() ? b_hh.contiguous() : Tensor();
  StateHistory h(h0, rows, reverse, s.uniform, recorded, true);
  StateHistory c(c0, rows, reverse, s.uniform, recorded, false);
  const StepStore gates(recorded, rows, N, 5 * H, kernels::cell_saved_dtype(s.dtype), s.device);
  const Tensor hidden = make_tensor({N, 4 * H}, s.dtype, s.device);
  for (const StepRows& step : s.order) {
    const Tensor h_in = h.before(step), c_in = c.before(step);
    const Tensor step_hidden = first_rows(hidden, step.count);
    recurrent_product(h_in, w, b, step_hidden);
    kernels::lstm_cell(s.device)(view_of(rows_of(x, step)), view_of(step_hidden), view_of(c_in),
                                 view_of(h.next(step)), view_of(c.next(step)),
                                 view_of(gates.at(step)));
    h.finish(step);
  }
  const Tensor output = h.steps(), h_n = h.final_state(), c_n = c.final_state();
  if (recorded) {
    s.h_prev = SavedTensor(h.starts());
    s.gates = SavedTensor(gates.all());
    s.w_hh = SavedTensor(w);
    auto node = std::make_shared<LstmSequenceBackward>(std::move(s), c.starts());
    autograd::record(node, {projected, h0, c0, w_hh, b_hh}, {output, h_n, c_n});
  }
  return {output, h_n, c_n};
}

std::tuple<Tensor, Tensor> gru_sequence(const Tensor& projected,
                                        const std::vector<int64_t>& batch_sizes, const Tensor& h0,
                                        const Tensor& w_hh, const Tensor& b_hh, bool reverse) {
  check_sequence("gru_sequence", projected, batch_sizes, h0, Tensor(), w_hh, b_hh, 3);
  SequenceSaved s = sequence_saved(batch_sizes, reverse, h0);
  const bool recorded = autograd::needs_grad({&projected, &h0, &w_hh, &b_hh});
  const NoGradGuard no_grad;
  const int64_t rows = projected.size(0), N = s.batch, H = s.hidden;
  const Tensor x = projected.contiguous(), w = w_hh.contiguous();
  const Tensor b = b_hh.defined() ? b_hh.contiguous() : Tensor();
  StateHistory h(h0, rows, reverse, s.uniform, recorded, true);
  const StepStore gates(recorded, rows, N, 4 * H, kernels::cell_saved_dtype(s.dtype), s.device);
  const Tensor hidden = make_tensor({N, 3 * H}, s.dtype, s.device);
  for (const StepRows& step : s.order) {
    const Tensor h_in = h.before(step);
    const Tensor step_hidden = first_rows(hidden, step.count);
    recurrent_product(h_in, w, b, step_hidden);
    kernels::gru_cell(s.device)(view_of(rows_of(x, step)), view_of(step_hidden), view_of(h_in),
                                view_of(h.next(step)), view_of(gates.at(step)));
    h.finish(step);
  }
  const Tensor output = h.steps(), h_n = h.final_state();
  if (recorded) {
    s.h_prev = SavedTensor(h.starts());
    s.gates = SavedTensor(gates.all());
    s.w_hh = SavedTensor(w);
    auto node = std::make_shared<GruSequenceBackward>(std::move(s));
    autograd::record(node, {projected, h0, w_hh, b_hh}, {output, h_n});
  }
  return {output, h_n};
}

}  // namespace hg
