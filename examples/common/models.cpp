#include "models.h"

#include "halfgrad/autograd/ops.h"
#include "halfgrad/core/error.h"
#include "halfgrad/core/factories.h"

namespace hg::examples {

std::shared_ptr<nn::Sequential> make_mlp() {
  auto net = std::make_shared<nn::Sequential>();
  net->push_back(std::make_shared<nn::Flatten>());
  net->push_back(std::make_shared<nn::Linear>(784, 1024));
  net->push_back(std::make_shared<nn::ReLU>());
  net->push_back(std::make_shared<nn::Linear>(1024, 1024));
  net->push_back(std::make_shared<nn::ReLU>());
  net->push_back(std::make_shared<nn::Linear>(1024, 10));
  return net;
}

std::shared_ptr<nn::Sequential> make_cnn() {
  auto net = std::make_shared<nn::Sequential>();
  net->push_back(std::make_shared<nn::Conv2d>(nn::Conv2dOptions(1, 32, 3).padding(1)));
  net->push_back(std::make_shared<nn::ReLU>());
  net->push_back(std::make_shared<nn::MaxPool2d>(2));
  net->push_back(std::make_shared<nn::Conv2d>(nn::Conv2dOptions(32, 64, 3).padding(1)));
  net->push_back(std::make_shared<nn::ReLU>());
  net->push_back(std::make_shared<nn::MaxPool2d>(2));
  net->push_back(std::make_shared<nn::Flatten>());
  net->push_back(std::make_shared<nn::Linear>(3136, 128));
  net->push_back(std::make_shared<nn::ReLU>());
  net->push_back(std::make_shared<nn::Linear>(128, 10));
  return net;
}

namespace {

// x + body(x)
class Residual : public nn::Module {
 public:
  explicit Residual(std::shared_ptr<nn::Module> body) : nn::Module("Residual") {
    body_ = register_module("body", std::move(body));
  }
  Tensor forward(const Tensor& x) override { return x + body_->forward(x); }

 private:
  std::shared_ptr<nn::Module> body_;
};

// x * factor
class Scale : public nn::Module {
 public:
  explicit Scale(double factor) : nn::Module("Scale"), factor_(factor) {}
  Tensor forward(const Tensor& x) override { return x * factor_; }
  std::string describe() const override { return "Scale(" + std::to_string(factor_) + ")"; }

 private:
  double factor_;
};

std::shared_ptr<nn::Sequential> conv_bn(int64_t in, int64_t out) {
  return std::make_shared<nn::Sequential>(std::initializer_list<std::shared_ptr<nn::Module>>{
      std::make_shared<nn::Conv2d>(nn::Conv2dOptions(in, out, 3).padding(1).bias(false)),
      std::make_shared<nn::BatchNorm2d>(out), std::make_shared<nn::ReLU>()});
}

std::shared_ptr<nn::Module> residual(int64_t channels) {
  return std::make_shared<Residual>(
      std::make_shared<nn::Sequential>(std::initializer_list<std::shared_ptr<nn::Module>>{
          conv_bn(channels, channels), conv_bn(channels, channels)}));
}

}  // namespace

std::shared_ptr<nn::Sequential> make_resnet9() {
  auto net = std::make_shared<nn::Sequential>();
  net->push_back(conv_bn(3, 64));
  net->push_back(conv_bn(64, 128));
  net->push_back(std::make_shared<nn::MaxPool2d>(2));
  net->push_back(residual(128));
  net->push_back(conv_bn(128, 256));
  net->push_back(std::make_shared<nn::MaxPool2d>(2));
  net->push_back(conv_bn(256, 512));
  net->push_back(std::make_shared<nn::MaxPool2d>(2));
  net->push_back(residual(512));
  net->push_back(std::make_shared<nn::AdaptiveMaxPool2d>(1));
  net->push_back(std::make_shared<nn::Flatten>());
  net->push_back(std::make_shared<nn::Linear>(512, 10));
  net->push_back(std::make_shared<Scale>(0.125));
  return net;
}

namespace {

// [N, 1, 28, 28] -> [N, 28, 28]: the rows as a sequence of tokens.
class RowsAsTokens : public nn::Module {
 public:
  RowsAsTokens() : nn::Module("RowsAsTokens") {}
  Tensor forward(const Tensor& x) override { return x.reshape({x.size(0), x.size(2), x.size(3)}); }
};

// x [N, T, D] + a learned [T, D] (initialised as normal(0, 0.02), as ViT's).
class PositionEmbedding : public nn::Module {
 public:
  PositionEmbedding(int64_t tokens, int64_t width) : nn::Module("PositionEmbedding") {
    weight = register_parameter("weight", empty({tokens, width}));
    nn::init::normal_(weight, 0.0, 0.02);
  }
  Tensor forward(const Tensor& x) override { return x + weight; }
  Tensor weight;
};

// [N, T, D] -> [N, D]
class MeanOverTokens : public nn::Module {
 public:
  MeanOverTokens() : nn::Module("MeanOverTokens") {}
  Tensor forward(const Tensor& x) override { return mean(x, {1}); }
};

// [N, T, in] -> the LSTM's output at the last step, [N, hidden].
class LastStepLSTM : public nn::Module {
 public:
  LastStepLSTM(int64_t in, int64_t hidden) : nn::Module("LastStepLSTM") {
    lstm_ = register_module(
        "lstm", std::make_shared<nn::LSTM>(nn::LSTMOptions(in, hidden).batch_first(true)));
  }
  Tensor forward(const Tensor& x) override {
    const Tensor out = std::get<0>(lstm_->forward(x));
    return out.select(1, out.size(1) - 1);
  }

 private:
  std::shared_ptr<nn::LSTM> lstm_;
};

}  // namespace

std::shared_ptr<nn::Sequential> make_row_transformer() {
  const int64_t width = 64;
  auto net = std::make_shared<nn::Sequential>();
  net->push_back(std::make_shared<RowsAsTokens>());
  net->push_back(std::make_shared<nn::Linear>(28, width));
  net->push_back(std::make_shared<PositionEmbedding>(28, width));
  const auto layer = nn::TransformerEncoderLayerOptions(width, 4)
                         .dim_feedforward(2 * width)
                         .dropout(0.0)
                         .batch_first(true)
                         .norm_first(true);
  net->push_back(std::make_shared<nn::TransformerEncoder>(layer, 2, /*final_norm=*/true));
  net->push_back(std::make_shared<MeanOverTokens>());
  net->push_back(std::make_shared<nn::Linear>(width, 10));
  return net;
}

std::shared_ptr<nn::Sequential> make_row_lstm() {
  auto net = std::make_shared<nn::Sequential>();
  net->push_back(std::make_shared<RowsAsTokens>());
  net->push_back(std::make_shared<LastStepLSTM>(28, 128));
  net->push_back(std::make_shared<nn::Linear>(128, 10));
  return net;
}

std::shared_ptr<nn::Sequential> make_model(const std::string& name) {
  if (name == "resnet9") return make_resnet9();
  return make_mnist_model(name);
}

std::shared_ptr<nn::Sequential> make_mnist_model(const std::string& name) {
  if (name == "mlp") return make_mlp();
  if (name == "cnn") return make_cnn();
  if (name == "transformer") return make_row_transformer();
  if (name == "lstm") return make_row_lstm();
  HG_FAIL("model: unknown model \"", name, "\" (expected mlp, cnn, transformer or lstm)");
}

}  // namespace hg::examples
