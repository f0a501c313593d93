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
// The image's 28 rows as a sequence of 28 tokens of 28 pixels:
// transformer: Linear(28,64) + a learned position embedding - TransformerEncoder(2 pre-norm
//   layers, 4 heads, feed-forward 128, no dropout, final LayerNorm) - mean over the tokens -
//   Linear(64,10)
// lstm: LSTM(28,128) - its last step's output - Linear(128,10)
std::shared_ptr<nn::Sequential> make_row_transformer();
std::shared_ptr<nn::Sequential> make_row_lstm();
// The MNIST models in order: their index is what a checkpoint records.
inline const char* const kMnistModels[] = {"mlp", "cnn", "transformer", "lstm"};
// Any of kMnistModels; throws hg::Error for anything else.
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
