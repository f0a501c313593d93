#pragma once
// The models of shared/BENCHMARKS.md, shared by the examples and the benchmarks.
#include <memory>
#include <string>

#include "halfgrad/nn/nn.h"

namespace hg::examples {

// mlp (28x28 input, flattened): Linear(784,1024)-ReLU-Linear(1024,1024)-ReLU-Linear(1024,10)
std::shared_ptr<nn::Sequential> make_mlp();
// cnn (1x28x28): Conv2d(1,32,3,pad 1)-ReLU-MaxPool2d(2)-Conv2d(32,64,3,pad 1)-ReLU-MaxPool2d(2)-
// Flatten-Linear(3136,128)-ReLU-Linear(128,10)
std::shared_ptr<nn::Sequential> make_cnn();
// "mlp" or "cnn"; throws hg::Error for anything else.
std::shared_ptr<nn::Sequential> make_mnist_model(const std::string& name);

// resnet9 (3x32x32, the DAWNBench ResNet-9): conv_bn(c_in, c_out) = Conv3x3(no bias)-
// BatchNorm2d-ReLU. prep conv_bn(3,64); layer1 conv_bn(64,128)+MaxPool2d(2) + residual
// [conv_bn(128,128), conv_bn(128,128)]; layer2 conv_bn(128,256)+MaxPool2d(2); layer3
// conv_bn(256,512)+MaxPool2d(2) + residual [conv_bn(512,512), conv_bn(512,512)];
// AdaptiveMaxPool2d(1)-Flatten-Linear(512,10), output x 0.125.
std::shared_ptr<nn::Sequential> make_resnet9();
// Any of the three by name.
std::shared_ptr<nn::Sequential> make_model(const std::string& name);

}  // namespace hg::examples
