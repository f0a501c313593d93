#pragma once
// A training step that, on CUDA with --graph, is captured once into a cuda::Graph and then
// replayed: a small model's step is dozens of short kernels whose launches cost the host more
// than they cost the device (core/cuda_graph.h, docs/cuda_nn.md "CUDA graphs").
//
//   examples::GraphedStep step([&](const Tensor& x, const Tensor& y) { ...; return loss; },
//                              args.on("graph"));
//   for (auto& batch : loader) {
//     const Tensor loss = step(batch.data.to(device), batch.target.to(device));
//     schedule.step();  // between replays: the replayed step reads the lr from device memory
//   }
//
// The first `warmup` calls run eagerly (they make the optimizer state, the masters, the loss
// scaler's device state and every lazy resource, which a capture must not contain). The next
// call captures the step on copies of its inputs and replays it; later calls copy their inputs
// into those copies and replay. A batch of another shape (an epoch's last, smaller one) runs
// eagerly. The step must not read anything back (item(), to(kCPU)): the capture then fails.
#include <cstdint>
#include <functional>

#include <halfgrad/halfgrad.h>

namespace hg::examples {

class GraphedStep {
 public:
  // step(x, y) returns the loss (a device tensor); enabled: capture and replay, else always eager.
  using Step = std::function<Tensor(const Tensor& x, const Tensor& y)>;
  GraphedStep(Step step, bool enabled, int64_t warmup = 3);
  // The loss of this call's step (a tensor of its own, not the graph's output buffer).
  Tensor operator()(const Tensor& x, const Tensor& y);
  int64_t replays() const { return replays_; }

 private:
  Step step_;
  bool enabled_;
  int64_t warmup_;
  int64_t calls_ = 0, replays_ = 0;
  Shape x_sizes_, y_sizes_;  // of the first call: the shapes the graph takes
  cuda::Graph graph_;
  Tensor x_, y_, loss_;  // the captured step's inputs and output
};

}  // namespace hg::examples
