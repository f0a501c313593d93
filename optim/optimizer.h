#pragma once
// hg::optim::Optimizer: the base of SGD, Adam, AdamW, RMSprop and Adagrad (libtorch names and
// semantics).
//
//   optim::SGD opt(model->parameters(), optim::SGDOptions(0.1).momentum(0.9));
//   loss.backward(); opt.step(); opt.zero_grad();
//
// Parameter groups: each ParamGroup holds its parameters and its own options (a copy of the
// optimizer's defaults unless given); schedulers change a group's learning rate with set_lr().
// Per-parameter state (step count, momentum / moment buffers) is keyed by the parameter's
// TensorImpl, so a parameter keeps its state for as long as the optimizer holds it.
//
// Precision. All update math runs under NoGradGuard in float (double for fp64 parameters), and
// the state of every non-fp64 parameter is fp32. A 16-bit parameter is, by default, read,
// updated in float and rounded (RNE) back to its dtype on every step: the "O3" baseline, where
// an update smaller than half an ulp of the weight is lost. With set_master_weights(true) the
// optimizer keeps an fp32 master copy of every fp16/bf16 parameter: step() widens the 16-bit
// gradient, updates the master in fp32, and writes the master rounded (RNE) back into the
// parameter in place (AMP O2). Small updates then accumulate in the master.
//
// A master is (re)seeded from its parameter when master weights are switched on, when a 16-bit
// parameter first needs one, and whenever the parameter was modified outside the optimizer since
// the optimizer last wrote it (its storage or version counter changed), e.g. by loading model
// weights after amp::initialize. So load model weights *before* the optimizer's state_dict when
// resuming: the other order reseeds the masters from the 16-bit weights.
//
// Lost updates (opt-in, count_lost_updates(true)): for every 16-bit parameter element, whether
// the step computed a nonzero update (the fp32 weight it writes moved) and whether the 16-bit
// parameter nevertheless came out unchanged (new16 == old16). Without master weights such an
// update is gone for good (|update| below half an ulp of the weight, value/update > 2^11 in
// fp16); with master weights the fp32 master keeps it, so the count shows what the masters save.
// Counting costs a copy of each 16-bit parameter per step and never changes the results.
//
// Parameters without a gradient are skipped. Non-finite gradients are not the optimizer's
// business (GradScaler skips such steps); step() propagates them without failing.
//
// A step gated on the device (step_unless_found_inf, for GradScaler's device-resident mode):
// the decision to skip is a float flag in device memory that the fused kernels read themselves,
// so the host never waits for it. The host-side bookkeeping that depends on the decision
// (ParamState::step, steps_taken(), whether a state entry exists at all) is settled later, when
// it is read: state(), state_dict(), steps_taken(), load_state_dict() and the next host-decided
// step read the pending skip counts back (one readback per run of identical steps, and none
// when nothing was issued since the last), so what they return is exactly what a host-decided
// run would hold. The readers leave the run going: gated steps after them continue it. SGD's
// update does not depend on that bookkeeping (see sgd.h); Adam's does, through the step number
// of its bias corrections, which its fused kernel forms on the device from the step number at
// the run's start and the run's device count of applied steps. Every configuration the fused
// kernels do not cover reads the flag once and decides on the host.
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "halfgrad/core/error.h"
#include "halfgrad/core/tensor.h"

namespace hg::optim {

// The options of one parameter group. Each optimizer has its own subclass (SGDOptions, ...).
class OptimizerOptions {
 public:
  virtual ~OptimizerOptions() = default;
  virtual std::unique_ptr<OptimizerOptions> clone() const = 0;
  virtual double get_lr() const = 0;
  virtual void set_lr(double lr) = 0;
  // Every option as a named scalar (bools as 0/1), for state_dict(); set_scalar is the inverse
  // and throws hg::Error for a name the options do not have.
  virtual std::vector<std::pair<std::string, double>> scalars() const = 0;
  virtual void set_scalar(const std::string& name, double value) = 0;
  // Throws hg::Error naming the optimizer, the option and its value when an option is invalid.
  virtual void validate(const std::string& optimizer) const = 0;
};

struct ParamGroup {
  std::vector<Tensor> params;
  std::unique_ptr<OptimizerOptions> options;  // null until the optimizer fills in its defaults

  ParamGroup() = default;
  ParamGroup(std::vector<Tensor> params);  // NOLINT: implicit, so {w, b} reads as a group
  ParamGroup(std::vector<Tensor> params, const OptimizerOptions& options);
  ParamGroup(const ParamGroup& other);
  ParamGroup& operator=(const ParamGroup& other);
  ParamGroup(ParamGroup&&) = default;
  ParamGroup& operator=(ParamGroup&&) = default;
  ~ParamGroup() = default;

  double lr() const;
  // Throws hg::Error for a negative or non-finite lr, and inside a cuda::Graph capture once the
  // group's lr is in device memory (below).
  void set_lr(double lr);
  // The options as the optimizer's own type, e.g. group.options_as<SGDOptions>().momentum(0.8).
  template <class Options>
  Options& options_as() const {
    auto* typed = dynamic_cast<Options*>(options.get());
    HG_CHECK(typed != nullptr, "ParamGroup::options_as: the group's options are ",
             options ? "of another optimizer" : "not set");
    return *typed;
  }

 private:
  friend class Optimizer;
  // The lr as a float64 [1] tensor on `device`, which the fused kernels read when they run, so a
  // step replayed from a cuda::Graph uses the lr set since the capture: made by the first fused
  // update (which must be eager), rewritten by set_lr (a fill kernel, no synchronisation) and
  // by the next eager update when the options' lr changed otherwise (load_state_dict writes it
  // at once). Not copied with the group; one device per group (another device makes a new one).
  // A group replaced (assigned) while a graph that read its lr still replays: not allowed.
  const Tensor& lr_tensor_on(Device device, const std::string& optimizer);
  void write_lr_tensor(double lr, const char* who);
  bool lr_tensor_ready(Device device) const;
  Tensor lr_tensor_;
  double lr_tensor_value_ = 0.0;
};

// The state of one parameter.
struct ParamState {
  int64_t step = 0;                       // updates applied to this parameter so far
  std::map<std::string, Tensor> buffers;  // "momentum_buffer", "exp_avg", "exp_avg_sq", ...
  Tensor master;                          // the fp32 master copy (master weights, 16-bit params)
  // Which storage (Storage::id: an address may be reused) and version of the parameter the
  // master was last synced with; 0: never.
  uint64_t synced_storage = 0;
  uint64_t synced_version = 0;
};

// An in-memory snapshot of an optimizer: deep copies, so later steps do not change it.
//   tensors: "state.<i>.<buffer>" and "state.<i>.master", i numbering the parameters of all
//            groups in order (as PyTorch does)
//   scalars: "state.<i>.step", "param_groups.<g>.<option>", "param_groups.<g>.num_params",
//            "master_weights"
// Counts of lost updates over 16-bit parameter elements (see count_lost_updates).
struct LostUpdateCount {
  int64_t elements = 0;  // 16-bit parameter elements stepped
  int64_t updated = 0;   // ... whose fp32 weight moved (an update below fp32's resolution at
                         // the weight, value/update > 2^24, counts as neither)
  int64_t lost = 0;      // ... of which the 16-bit value stayed the same
  // lost / updated (0 when nothing was updated)
  double share() const {
    return updated ? static_cast<double>(lost) / static_cast<double>(updated) : 0.0;
  }
  LostUpdateCount& operator+=(const LostUpdateCount& other);
};

// What Optimizer::step_unless_found_inf did.
enum class GatedStep {
  Stepped,  // the host read the flag back, found it clear and stepped
  Skipped,  // the host read the flag back and skipped the step
  OnDevice  // every update went to a fused kernel that tests the flag: nothing was read back
};

struct OptimizerStateDict {
  std::map<std::string, Tensor> tensors;
  std::map<std::string, double> scalars;
};

namespace detail {
class FusedBatch;  // optim/fused_batch.h

// One parameter's update as the optimizers see it.
struct ParamUpdate {
  Tensor param;   // the parameter
  Tensor weight;  // what the update reads and writes: the fp32 master, the parameter itself,
                  // or a contiguous staging copy of it
  Tensor grad;    // contiguous; float/half/bf16 when compute is fp32, double when fp64
  DType compute = kFloat32;  // of the math and the state: fp64 for fp64 parameters, else fp32
  double grad_factor = 1.0;  // the gradient is read as grad * grad_factor (1 / grad_scale)
  bool cpu_loops = true;     // raw CPU loops, else the device-generic path (tensor ops)
  // The device skip flag (float32 [1]) of a gated step: the update must take the fused kernel
  // and pass it, so the kernel skips on the device; null for a host-decided step.
  const Tensor* found_inf = nullptr;
  // A gated step's step number if it were its run's first (ParamState::step + 1), and the
  // device's count (float32 [1]) of the run's earlier steps it applied (null: a new run). The
  // update's true step number is the sum, formed on the device: it stays right when the step is
  // replayed from a CUDA graph, where the host's counts do not advance.
  int64_t gated_step = 0;
  const Tensor* applied_before = nullptr;
  // The run's counter itself, for an optimizer whose fused kernel counts the step
  // (counts_gated_steps_in_kernel): given to the step's first update only, whose call adds
  // 1 - found_inf to it. Null otherwise.
  const Tensor* count_applied = nullptr;
  // For a fused update: the group's lr as a float64 [1] tensor on the weight's device, which the
  // kernel reads instead of the options' lr (the same value; see ParamGroup).
  const Tensor* lr_tensor = nullptr;
  // Set by an update that also wrote the rounded weight into the parameter (the fused CUDA
  // kernels write the 16-bit copy in the same pass as the master), so step() skips its copy.
  bool param_written = false;
  // Where a fused update may queue its kernel call instead of launching it, to be launched with
  // the rest of its group's (null: launch now). Only an update that sets param_written may
  // queue: step() copies nothing afterwards that would need the new weight at once.
  std::unique_ptr<FusedBatch>* batch = nullptr;
};
}  // namespace detail

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  const std::string& name() const { return name_; }  // "SGD", "Adam", ...

  // On CUDA parameters that the fused kernels take, a step is a device-gated one whose flag is
  // never set (below): its counts are settled when read, and a cuda::Graph replay of it counts.
  // A step decided on the host inside a capture is an hg::Error.
  void step();
  // For GradScaler: the gradients hold grad_scale times the true gradients (from a scaled
  // loss), and the update divides them by grad_scale as it reads them, in fp32 (fp64), so
  // 16-bit gradients are never unscaled in place, where small values would flush to zero.
  // step_scaled(1.0) is step().
  void step_scaled(double grad_scale);
  // For GradScaler's device-resident mode: steps unless found_inf (float32 [1] on the
  // parameters' device) is non-zero, with the gradients read as they are (already unscaled).
  // When every update can be skipped exactly by its fused kernel (see skips_exactly_on_device)
  // nothing is read back: the kernels test the flag, and the host bookkeeping is settled when
  // read (see the top of this file). Otherwise one readback of the flag decides on the host,
  // exactly as GradScaler's host mode does, and so do lost-update counting, parameters on
  // another device than found_inf, and layouts the fused kernels do not take.
  GatedStep step_unless_found_inf(const Tensor& found_inf);
  // How many steps were applied (GradScaler's skipped steps do not count). Settles pending
  // device-gated steps: a readback when there are some.
  int64_t steps_taken() const;
  // How many steps were issued: applied ones, plus device-gated ones whether or not the device
  // skipped them. Never reads anything back; LRScheduler uses it to notice a schedule that
  // advances without updates (host-decided skips only: a device skip is invisible to it).
  int64_t steps_issued() const { return steps_issued_; }
  // How many times the optimizer read a device value back to decide or settle a gated step (the
  // flag of a host-decided step_unless_found_inf, a run's skip count when settled).
  int64_t host_readbacks() const { return host_readbacks_; }
  // set_to_none: drop the gradients (undefined: PyTorch 2's default; 1.13 zeroed them); else
  // zero them in place.
  void zero_grad(bool set_to_none = true);

  // Adds a group; a group without options gets a copy of the defaults. A parameter may be in
  // one group only, and must be a floating-point leaf.
  void add_param_group(const ParamGroup& group);
  std::vector<ParamGroup>& param_groups() { return groups_; }
  const std::vector<ParamGroup>& param_groups() const { return groups_; }
  std::vector<Tensor> parameters() const;  // of all groups, in order
  const OptimizerOptions& defaults() const { return *defaults_; }
  // The state of param; nullptr before its first update (unless it has a master weight).
  const ParamState* state(const Tensor& param) const;

  OptimizerStateDict state_dict() const;
  // Restores a state_dict() of an optimizer of the same kind with the same group layout
  // (group count, parameters per group and their shapes); copies the tensors.
  void load_state_dict(const OptimizerStateDict& dict);

  // Master weights (AMP O2): fp32 copies of every fp16/bf16 parameter, seeded from the
  // parameters now; false drops them.
  void set_master_weights(bool enabled);
  bool master_weights() const { return master_weights_; }
  // The fp32 master of param; undefined when param has none.
  Tensor master_weight(const Tensor& param) const;

  // Opt-in lost-update counting for 16-bit parameters (see the top of this file); enabling it
  // resets both counts.
  void count_lost_updates(bool enabled);
  bool counts_lost_updates() const { return count_lost_; }
  const LostUpdateCount& last_step_lost_updates() const { return last_lost_; }  // the last step
  const LostUpdateCount& total_lost_updates() const { return total_lost_; }     // since enabled

  // false forces the device-generic path (tensor ops, used for non-CPU tensors) on the CPU
  // too, so tests can compare it with the raw CPU loops. Default true.
  void set_cpu_loops(bool enabled) { cpu_loops_ = enabled; }

 protected:
  Optimizer(std::string name, std::vector<ParamGroup> groups,
            std::unique_ptr<OptimizerOptions> defaults);
  // Updates one parameter; state.step already counts this update, except in a device-gated
  // step (u.found_inf set), where it is counted once the device's decision is read back.
  virtual void update(detail::ParamUpdate& u, ParamState& state,
                      const OptimizerOptions& options) = 0;
  // Whether a fused update of a parameter in `state` (null before its first update), gated by
  // the device flag, leaves exactly what a host decision would: true only when the update reads
  // none of the bookkeeping a device skip leaves unsettled, or reads ParamState::step through
  // u.gated_step and u.applied_before (then also override reads_step_count). Default no.
  virtual bool skips_exactly_on_device(const ParamState* state,
                                       const OptimizerOptions& options) const;
  // Whether the update reads ParamState::step. A device-gated run then keeps all its pending
  // steps in one run (a change of parameter set settles the previous runs first: a readback).
  virtual bool reads_step_count() const { return false; }
  // Whether the update's fused kernel adds a gated step to its run's counter when handed
  // u.count_applied (kernels/amp_kernels.h), which saves the step two launches. Default no.
  virtual bool counts_gated_steps_in_kernel() const { return false; }
  // Whether updating a parameter in `state` would create state buffers (their zeros): the first
  // update of a parameter, which a cuda::Graph capture must not contain (a replay would zero
  // them again). Default no.
  virtual bool update_creates_state(const ParamState& state, const OptimizerOptions& options) const;

 private:
  // Steps gated on the device whose outcome the host has not read yet (optim/gated_step.cpp).
  // A run: consecutive gated steps that updated the same parameters, and how many of them the
  // device applied (counted on the device, so graph replays of a step count too).
  struct GatedRun {
    std::vector<const TensorImpl*> params;  // those with a gradient, in order
    int64_t calls = 0;  // as the host issued them (replays of a captured step not included)
    Tensor applied;     // float32 [1] on the device: the calls' sum of (1 - found_inf)
    Tensor one;         // float32 [1] on the device: 1, what each call adds before its flag
    // Settled so far: the applied steps already in the host bookkeeping, and `calls` then.
    int64_t folded = 0;
    int64_t calls_folded = 0;
    // A call was recorded into a cuda::Graph: replays may have applied steps the host never
    // saw, so settling always reads back, and the graph holds the run's tensors.
    bool captured = false;
  };
  // Kept alive for the graphs that write them: the device counters and the state buffers of
  // captured runs that ended (only a graph replayed after its run ended still writes them).
  mutable std::vector<Tensor> graph_held_;
  Tensor never_set_;  // never_set_flag()
  // What step_param passes to a device-gated update.
  struct DeviceGate {
    const Tensor* found_inf;
    const Tensor* applied_before;  // the current run's applied count; null for a new run
    int64_t folded = 0;            // of the current run: already in ParamState::step
    // the counter for the next update to count into (counts_gated_steps_in_kernel); null once
    // an update took it
    const Tensor* count_applied = nullptr;
  };
  struct GatedBook {
    std::vector<GatedRun> runs;
    std::set<const TensorImpl*> fresh;    // no step and no buffers when first gated
    std::set<const TensorImpl*> created;  // ... and no state entry at all
  };
  bool can_gate_on_device(const Tensor& found_inf) const;
  void step_gated_on_device(const Tensor& found_inf);
  // Whether the next gated step over `params` continues the last run (settling first when it
  // cannot and the update reads step counts).
  bool continue_gated_run(const std::vector<const TensorImpl*>& params);
  void record_gated_step(std::vector<const TensorImpl*> params, const Tensor& found_inf,
                         bool continues, bool counted);
  // Reads the pending applied counts back and applies them to the host bookkeeping. The readers
  // (state(), state_dict(), steps_taken()) keep the current run going, so a captured step
  // replays into a live counter and an eager step continues the run; a host-decided step, a
  // load or a new parameter set end it.
  void settle_gated_steps(bool keep_current_run = false) const;
  void check_step_inputs() const;
  // The found-inf flag of a plain step() on CUDA parameters: a float32 [1] zero on their device
  // that nothing sets (made on first use); null when the first parameter with a gradient is not
  // on CUDA.
  const Tensor* never_set_flag();
  // Inside a cuda::Graph capture: throws, before anything changes, unless every parameter with a
  // gradient has its master, its state buffers and its group's lr tensor (what the eager
  // warm-up steps make), so the capture records the update alone.
  void check_capture_ready() const;
  void step_param(const Tensor& param, ParamGroup& group, double grad_factor,
                  DeviceGate* gate = nullptr, std::unique_ptr<detail::FusedBatch>* batch = nullptr);
  void step_param_counting(const Tensor& param, ParamGroup& group, double grad_factor);
  detail::ParamUpdate prepare(const Tensor& param, ParamState& state, double grad_factor) const;
  bool wants_master(const Tensor& param) const;
  void sync_masters();
  void mark_synced(const Tensor& param, ParamState& state) const;
  void mark_masters_synced();
  using StateMap = std::unordered_map<const TensorImpl*, ParamState>;
  std::unique_ptr<OptimizerOptions> load_group(size_t g, size_t& index,
                                               const OptimizerStateDict& dict,
                                               StateMap& loaded) const;

  std::string name_;
  std::vector<ParamGroup> groups_;
  std::unique_ptr<OptimizerOptions> defaults_;
  // mutable: const readers settle pending device-gated steps into them (settle_gated_steps)
  mutable StateMap state_;
  bool master_weights_ = false;
  bool cpu_loops_ = true;
  mutable int64_t steps_taken_ = 0;
  int64_t steps_issued_ = 0;
  mutable GatedBook gated_;
  mutable int64_t host_readbacks_ = 0;
  bool count_lost_ = false;
  LostUpdateCount last_lost_, total_lost_;
};

namespace detail {
// u's gradient in the compute dtype, times u.grad_factor (the tensor-op path's read).
Tensor read_grad(const ParamUpdate& u);
// The named state buffer of u's parameter in the compute dtype, created on first use filled with
// `initial` (Adagrad's initial_accumulator_value; zeros for the rest).
Tensor& state_buffer(ParamState& state, const std::string& name, const ParamUpdate& u,
                     double initial = 0.0);
// Whether u can take a fused kernel (kernels/amp_kernels.h): a CUDA parameter whose weight
// (master or parameter) is contiguous, or any such parameter in a device-gated step (on the CPU
// the fused column computes what the loops compute, bit for bit, and it can test the flag).
bool use_fused_kernel(const ParamUpdate& u);
// The parameter to receive the rounded weight in the fused pass: u.param when u updates a
// master and the parameter is contiguous (null otherwise; step() then copies).
const Tensor* fused_param_out(const ParamUpdate& u);
// Shared by the options classes: "SGD: invalid lr: -0.1 (must be >= 0)".
void check_option(bool ok, const std::string& optimizer, const char* option, double value,
                  const char* requirement);
}  // namespace detail

}  // namespace hg::optim
