#pragma once
// Per-step values of a training loop, read back in batches. A CUDA loop that read its loss (or
// the loss scale) after every step would make the host wait for the GPU every step, and the GPU
// then idles while the host queues the next one. StepReadout keeps each step's loss and the
// scaler's state as tensors where they are, and drain() reads every queued step back with one
// transfer each for the losses and the scaler states.
//
//   examples::StepReadout readout;
//   for (auto& batch : loader) {
//     ...  scaler.update();
//     readout.push(loss, scaler);
//     if (readout.due()) for (const auto& v : readout.drain()) progress.update(v.loss);
//   }
//   for (const auto& v : readout.drain()) ...  // the rest, at the end of the epoch
#include <cstdint>
#include <vector>

#include <halfgrad/halfgrad.h>

namespace hg::examples {

// One step as it was read back.
struct StepValues {
  double loss = 0;            // the unscaled loss of the step
  double loss_scale = 1;      // the scale after the step's update() (1 without scaling)
  int64_t skipped_steps = 0;  // the scaler's count after the step
};

class StepReadout {
 public:
  // every: how many steps due() lets queue up before it asks for a drain.
  explicit StepReadout(int64_t every = 16) : every_(every) {}
  // The examples' choice for a loop on `device`: 16 steps on CUDA, every step on the CPU (where
  // reading is free, so the progress line moves every step).
  static StepReadout for_device(Device device) { return StepReadout(device.is_cuda() ? 16 : 1); }
  // Queues the step's loss (any float dtype, one element) and the scaler's state after update().
  void push(const Tensor& loss, const amp::GradScaler& scaler);
  bool due() const { return static_cast<int64_t>(losses_.size()) >= every_; }
  // The queued steps in order; empties the queue.
  std::vector<StepValues> drain();

 private:
  int64_t every_;
  std::vector<Tensor> losses_;  // float64 [1] each, on the loss's device
  std::vector<Tensor> scales_;  // float64 [4] each (GradScaler::state_tensor), or none
};

}  // namespace hg::examples
