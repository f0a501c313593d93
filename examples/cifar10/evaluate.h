#pragma once
// hg_cifar10's evaluation: test accuracy, plain and with flip test-time augmentation.
#include <cstdint>
#include <limits>

#include <halfgrad/halfgrad.h>

namespace hg::examples {

// Test accuracy, plain and (when asked) with flip test-time augmentation; NaN: not measured.
struct Accuracy {
  double plain = std::numeric_limits<double>::quiet_NaN();
  double tta = std::numeric_limits<double>::quiet_NaN();
};

// With tta, the class of an image is the argmax of its logits plus those of its mirror image,
// summed in fp32 (the sum has the argmax of the mean). Both counts stay on the device and are
// read back once, at the end.
Accuracy evaluate(nn::Module& model, const data::Dataset& test, int64_t batch, Device device,
                  const amp::AmpConfig& amp, bool tta);

// "test accuracy 93.70% (flip TTA 94.01%, 10000 images)", or "not evaluated".
void print_accuracy(const Accuracy& acc, int64_t test_images);

}  // namespace hg::examples
