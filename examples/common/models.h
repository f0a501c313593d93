#pragma once
// The models of shared/BENCHMARKS.md, shared by the examples and the benchmarks.
#include <memory>
#include <string>

#include "nn/nn.h"

namespace hg::examples {

// mlp (28x28 input, flattened): Linear(784,1024)-ReLU-Linear(1024,1024)-ReLU-Linear(1024,10)
std::shared_ptr<nn::Sequential> make_mlp();
// cnn (1x28x28): Conv2d(1,32,3,pad 1)-ReLU-MaxPool2d(2)-Conv2d(32,64,3,pad 1)-ReLU-MaxPool2d(2)-
// Flatten-Linear(3136,128)-ReLU-Linear(128,10)
std::shared_ptr<nn::Sequential> make_cnn();
// "mlp" or "cnn"; throws hg::Error for anything else.
std::shared_ptr<nn::Sequential> make_mnist_model(const std::string& name);

}  // namespace hg::examples
