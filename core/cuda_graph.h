#pragma once
// hg::cuda::Graph: device work captured once and replayed with one launch (a CUDA graph).
//
// A small model's training step on a GPU is a few dozen kernels of microseconds each, and the
// host's work to issue them (the ops, autograd, one cudaLaunchKernel per kernel) takes longer
// than the device's. Captured into a graph, the whole step is one launch.
//
//   for (int i = 0; i < 3; ++i) step();         // warm up eagerly: cuBLAS handle, optimizer
//                                                // state, allocator blocks all exist
//   cuda::Graph graph;
//   graph.capture([&] { step(); });              // recorded, not run
//   for (auto& batch : loader) {
//     x_static.copy_(batch.data.to(kCUDA));      // new inputs into the captured tensors
//     graph.replay();                            // the step, on the device
//   }
//
// What a replay repeats is the captured device work, exactly: the same kernels with the same
// arguments on the same memory. So:
// - Inputs and outputs are the tensors the capture used: copy new inputs into them, read the
//   results (the loss, the gradients) from the tensors the captured code produced.
// - Host-side values are frozen at capture: dropout's random offsets, and any option passed to a
//   kernel as an argument, do not advance on replay. Device-side state does: weights, momentum,
//   GradScaler's device-resident scale, skip flag and skip count; the optimizer's count of the
//   device-gated steps it applied (GradScaler's steps, and a plain step() on CUDA, which is one
//   whose flag is never set), from which Adam/AdamW take their step number (so their bias
//   corrections step on with the replays, skipped steps excluded); and each parameter group's
//   learning rate, which the fused optimizer kernels read from device memory, so a scheduler's
//   step() (ParamGroup::set_lr) between replays changes the lr of the next replay. The count
//   and the lr tensor are made by the first fused or gated step, which must be eager, as must
//   the step that makes a parameter's state buffers or master: a capture containing one fails
//   (before the optimizer changes anything), as the warm-up steps above avoid. A scheduler's
//   step(), or set_lr once the group's lr is in device memory, inside a capture fails too.
// - The captured code must not wait for the device (item(), to(kCPU), printing a CUDA tensor,
//   an optimizer step decided on the host) nor copy between host and device (Tensor::to):
//   capture() then fails with an hg::Error, and the device work queued so far is dropped. Host
//   state the captured code changed before it failed stays changed (e.g. a GradScaler whose
//   step() ran wants its update() before the next step()). Out-of-range loss targets are not
//   reported inside a graph (kernels/cuda/target_check.h); their rows still get a NaN loss.
// - Memory the captured work allocates comes from a pool private to the graph, which replays
//   reuse; it returns to the allocator's cache when the graph is destroyed (blocks still held by
//   tensors, e.g. the gradients, return when those tensors let go of them).
// - Tensors allocated before the capture that the captured work uses (inputs, parameters,
//   optimizer and scaler state) must outlive the graph's replays: a replay writes into their
//   memory whoever holds it. One such tensor is internal: the device count of the optimizer's
//   gated steps (optim/optimizer.h). state(), state_dict() and steps_taken() read it (a
//   synchronisation) and keep the run going, so they may be called between replays. A
//   host-decided optimizer step, load_state_dict() or a gated step over another set of
//   parameters ends the run: the optimizer keeps what the graph writes alive, but replays after
//   that are not counted. A parameter whose steps the graph always skipped keeps its zero state
//   buffers while the run goes on (the graph writes into them), where a host-decided run would
//   have none. Replacing a parameter group (assigning to param_groups()[i]) drops the lr tensor
//   a graph reads: not while the graph replays.
// One capture at a time per process. Without a CUDA device both calls throw.
#include <cstdint>
#include <functional>
#include <memory>

namespace hg::cuda {

class Graph {
 public:
  Graph();
  ~Graph();
  Graph(const Graph&) = delete;
  Graph& operator=(const Graph&) = delete;

  // Runs fn with every kernel and copy it issues on the device recorded into this graph instead
  // of executed. Once per graph.
  void capture(const std::function<void()>& fn);
  // Launches the captured work on halfgrad's stream (asynchronously, like any kernel).
  void replay();
  bool captured() const;
  // How many kernels one replay launches: the captured graph's kernel nodes (copies and memsets
  // not counted), i.e. the launches the captured code made. 0 before a capture.
  int64_t kernel_launches() const;
  // How many pieces of work one replay runs: the kernels and the copies and memsets. 0 before a
  // capture.
  int64_t nodes() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace hg::cuda
