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
// The first `warmup` calls run eagerly: they begin the optimizer's device-counted run and make
// its state buffers, the groups' lr tensors, the loss scaler's device state and every lazy
// resource (cuBLAS), none of which a capture may make. The next call captures the step on copies
// of its inputs and replays it; later calls copy their inputs into those copies and replay. A
// batch of another shape (an epoch's last, smaller one) runs eagerly, between replays.
//
// What the step does on the host happens once, at the capture; what it does on the device
// happens at every replay (core/cuda_graph.h). So the step must not read anything back (item(),
// to(kCPU)) nor copy from the host: the capture then fails with an hg::Error, which is final
// for this object (its graph is spent). After an eager step between replays, a parameter's
// grad() is that step's gradient, not the replays'. What the step refers to (model, optimizer,
// scaler) must outlive this object.
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
