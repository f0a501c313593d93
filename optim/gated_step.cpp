// Optimizer::step_unless_found_inf (optim/optimizer.h): a step whose skip decision stays on the
// device, and the deferred host bookkeeping that decision leaves behind.
#include <algorithm>

#include "halfgrad/autograd/grad_mode.h"
#include "halfgrad/core/cuda.h"
#include "halfgrad/core/factories.h"
#include "halfgrad/optim/fused_batch.h"
#include "halfgrad/optim/optimizer.h"

namespace hg::optim {

bool Optimizer::skips_exactly_on_device(const ParamState*, const OptimizerOptions&) const {
  return false;
}

const Tensor* Optimizer::never_set_flag() {
  for (const auto& group : groups_) {
    for (const auto& p : group.params) {
      if (!p.grad().defined()) continue;
      if (!p.device().is_cuda()) return nullptr;  // the CPU keeps its host-decided loops
      if (!never_set_.defined() || never_set_.device() != p.device()) {
        if (cuda::is_capturing()) return nullptr;  // a run cannot begin in a capture anyway
        never_set_ = zeros({1}, TensorOptions(kFloat32).device(p.device()));
      }
      return &never_set_;
    }
  }
  return nullptr;
}

bool Optimizer::update_creates_state(const ParamState&, const OptimizerOptions&) const {
  return false;
}

void Optimizer::check_capture_ready() const {
  static const ParamState kNoState;
  for (const auto& group : groups_) {
    for (const auto& p : group.params) {
      if (!p.grad().defined()) continue;
      auto it = state_.find(p.impl());
      const ParamState& st = it == state_.end() ? kNoState : it->second;
      const bool fused = p.device().is_cuda() && (wants_master(p) || p.is_contiguous());
      const char* missing = wants_master(p) && !st.master.defined()    ? "fp32 master weight"
                            : update_creates_state(st, *group.options) ? "state buffers"
                            : fused && !group.lr_tensor_ready(p.device())
                                ? "copy of its group's current lr in device memory"
                                : nullptr;
      HG_CHECK(missing == nullptr, name(), ".step inside cuda::Graph::capture: parameter ",
               describe(p), " has no ", missing,
               " yet, which the capture would make and every replay make again; warm up with an "
               "eager step before the capture");
    }
  }
}

int64_t Optimizer::steps_taken() const {
  settle_gated_steps(/*keep_current_run=*/true);
  return steps_taken_;
}

// Every parameter with a gradient must take a fused kernel on found_inf's device, and the
// optimizer must say that a device skip leaves nothing for the host to get wrong.
bool Optimizer::can_gate_on_device(const Tensor& found_inf) const {
  if (count_lost_) return false;  // counting reads the new weights back anyway
  for (const auto& group : groups_) {
    for (const auto& p : group.params) {
      if (!p.grad().defined()) continue;
      if (p.device() != found_inf.device() || p.grad().device() != found_inf.device()) return false;
      // prepare() then hands the kernel a contiguous weight: the master, or p itself
      if (!wants_master(p) && !p.is_contiguous()) return false;
      auto it = state_.find(p.impl());
      if (!skips_exactly_on_device(it == state_.end() ? nullptr : &it->second, *group.options))
        return false;
    }
  }
  return true;
}

GatedStep Optimizer::step_unless_found_inf(const Tensor& found_inf) {
  HG_CHECK(found_inf.defined() && found_inf.dtype() == kFloat32 && found_inf.numel() == 1, name(),
           ".step_unless_found_inf: found_inf must be a float32 tensor of one element, got ",
           describe(found_inf));
  NoGradGuard no_grad;
  check_step_inputs();
  if (!can_gate_on_device(found_inf)) {
    ++host_readbacks_;
    if (found_inf.item<float>() != 0.0f) return GatedStep::Skipped;  // the one readback
    step();
    return GatedStep::Stepped;
  }
  step_gated_on_device(found_inf);
  return GatedStep::OnDevice;
}

void Optimizer::step_gated_on_device(const Tensor& found_inf) {
  if (cuda::is_capturing()) check_capture_ready();
  if (master_weights_) sync_masters();
  std::vector<const TensorImpl*> stepped;
  for (const auto& group : groups_)
    for (const auto& p : group.params)
      if (p.grad().defined()) stepped.push_back(p.impl());
  const bool continues = continue_gated_run(stepped);
  // A run begun inside a capture would begin again at every replay: its count restarted, Adam's
  // step number frozen. The warm-up steps before a capture begin it (core/cuda_graph.h).
  HG_CHECK(continues || !cuda::is_capturing(), name(),
           ".step_unless_found_inf inside cuda::Graph::capture: these parameters' first gated "
           "step must be taken eagerly, before the capture (a replay would restart its step "
           "count); warm up with a few eager steps");
  DeviceGate gate{&found_inf, nullptr};
  const bool kernel_counts = continues && counts_gated_steps_in_kernel();
  if (continues) {
    const GatedRun& run = gated_.runs.back();
    gate = {&found_inf, &run.applied, run.folded, kernel_counts ? &run.applied : nullptr};
  }
  for (auto& group : groups_) {
    detail::step_group(group, [&](const Tensor& p, std::unique_ptr<detail::FusedBatch>* batch) {
      auto it = state_.find(p.impl());
      if (it == state_.end()) gated_.created.insert(p.impl());
      if (it == state_.end() || (it->second.step == 0 && it->second.buffers.empty()))
        gated_.fresh.insert(p.impl());
      step_param(p, group, 1.0, &gate, batch);
    });
  }
  if (master_weights_) mark_masters_synced();
  // counted when an update took the counter (none does when no parameter has a gradient)
  record_gated_step(std::move(stepped), found_inf, continues,
                    kernel_counts && gate.count_applied == nullptr);
  ++steps_issued_;
}

// Consecutive gated steps over the same parameters share one device counter, so a training
// loop keeps one run however long it goes (and settling reads one value back). A run ends when
// the parameter set changes, and every 2^24 calls (float32 counts exactly up to 2^24; replays of
// a captured step are not among the host's calls, so a graph must stay below 2^24 replays).
bool Optimizer::continue_gated_run(const std::vector<const TensorImpl*>& params) {
  constexpr int64_t kMaxCalls = int64_t{1} << 24;
  const std::vector<GatedRun>& runs = gated_.runs;
  if (runs.empty()) return false;
  if (runs.back().params == params && runs.back().calls < kMaxCalls) return true;
  // An update that reads ParamState::step learns only the current run's count on the device.
  if (reads_step_count() || runs.back().calls >= kMaxCalls) settle_gated_steps();
  return false;
}

void Optimizer::record_gated_step(std::vector<const TensorImpl*> params, const Tensor& found_inf,
                                  bool continues, bool counted) {
  // after this call's kernels, in stream order: 1 - found_inf more applied steps (counted by the
  // first update's kernel already, when it could)
  if (continues) {
    GatedRun& run = gated_.runs.back();
    if (!counted) run.applied.add_(run.one - found_inf);  // (two launches: a sub, an add)
    ++run.calls;
    run.captured = run.captured || cuda::is_capturing();
    return;
  }
  Tensor one = full({1}, 1.0, TensorOptions(kFloat32).device(found_inf.device()));
  Tensor applied = one - found_inf;
  gated_.runs.push_back({std::move(params), 1, std::move(applied), std::move(one)});
}

// A parameter whose every pending step was skipped was never updated: the buffers its state got
// on the host are the zeros the device never wrote, and a host-decided run would have neither
// them nor, unless it holds a master, the state entry. A captured run's graph writes into its
// parameters' buffers and its counter for as long as it replays: the readers keep such a run
// going, with its buffers; when it ends (a host-decided step, a load, a new parameter set),
// graph_held_ keeps what the graph writes alive, and replays after that are not counted.
void Optimizer::settle_gated_steps(bool keep_current_run) const {
  if (gated_.runs.empty()) return;
  NoGradGuard no_grad;
  std::vector<GatedRun>& runs = gated_.runs;
  for (GatedRun& run : runs) {
    if (!run.captured && run.calls == run.calls_folded) continue;  // nothing new since
    ++host_readbacks_;
    const auto applied = static_cast<int64_t>(run.applied.item<float>());  // a readback
    for (const TensorImpl* p : run.params) state_[p].step += applied - run.folded;
    steps_taken_ += applied - run.folded;
    run.folded = applied;
    run.calls_folded = run.calls;
  }
  const auto graph_writes = [&](const TensorImpl* p) {
    return std::any_of(runs.begin(), runs.end(), [&](const GatedRun& run) {
      return run.captured && std::find(run.params.begin(), run.params.end(), p) != run.params.end();
    });
  };
  for (auto p = gated_.fresh.begin(); p != gated_.fresh.end();) {
    const bool held = graph_writes(*p);
    if (held && keep_current_run) {
      ++p;
      continue;
    }
    auto it = state_.find(*p);
    if (it != state_.end() && it->second.step == 0) {
      if (held)
        for (const auto& entry : it->second.buffers) graph_held_.push_back(entry.second);
      it->second.buffers.clear();
      if (gated_.created.count(*p) && !it->second.master.defined()) state_.erase(it);
    }
    gated_.created.erase(*p);
    p = gated_.fresh.erase(p);
  }
  std::vector<GatedRun> kept;
  for (size_t i = 0; i < runs.size(); ++i) {
    if (keep_current_run && (runs[i].captured || i + 1 == runs.size())) {
      kept.push_back(std::move(runs[i]));
    } else if (runs[i].captured) {
      graph_held_.insert(graph_held_.end(), {runs[i].applied, runs[i].one});
    }
  }
  if (keep_current_run) {
    runs = std::move(kept);
  } else {
    gated_ = GatedBook();
  }
}

}  // namespace hg::optim
