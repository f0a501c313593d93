// Every halfgrad expression of docs/from_pytorch.md, compiled and run as a user's program would
// (the page says so: keep the two in step). Returns the number of failed checks.
#include <halfgrad/halfgrad.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "from_pytorch.h"

using namespace hg;

namespace {

int failures = 0;

void check(bool ok, const std::string& what) {
  if (!ok) {
    std::cout << "FAIL from_pytorch.md: " << what << '\n';
    ++failures;
  }
}

struct Net : nn::Module {
  std::shared_ptr<nn::Linear> fc;
  Net() : nn::Module("Net") { fc = register_module("fc", std::make_shared<nn::Linear>(2, 16)); }
  Tensor forward(const Tensor& x) override { return relu(fc->forward(x)); }
};

void tensors() {
  Tensor x = from_vector<float>({1, 2, 3, 4}, {2, 2});
  check(zeros({2, 3}, kFloat16).dtype() == kFloat16, "zeros fp16");
  if (cuda::is_available()) {
    check(randn({4, 5}, TensorOptions().device(kCUDA)).device() == kCUDA, "randn on cuda");
    check(x.to(kCUDA).device() == kCUDA, "x.to(kCUDA)");
  }
  check(arange(10).dtype() == kInt64 && arange(0.0, 1.0, 0.25).dtype() == kFloat32, "arange");
  check(linspace(0, 1, 5).numel() == 5 && eye(3).sum().item<float>() == 3, "linspace, eye");
  check(randperm(10).dtype() == kInt64 && randperm(10).sum().item<int64_t>() == 45, "randperm");
  manual_seed(0);
  check(x.sizes() == Shape{2, 2} && x.size(1) == 2 && x.dim() == 2 && x.numel() == 4, "shape");
  check(x.to(kFloat16).dtype() == kFloat16 && x.to(kBFloat16).to(kFloat32).dtype() == kFloat32,
        "to(dtype)");
  check(x[1][0].item<float>() == 3 && x.to_vector<float>().size() == 4, "item, to_vector");
  std::ostringstream printed;
  printed << x << ' ' << x.sizes() << ' ' << shape_str(x.sizes());
  check(printed.str().ends_with("dtype=float32) [2, 2] [2, 2]"), "printing");
  check(x.slice(1, 1, 2).sizes() == Shape{2, 1} && x.slice(-1, 0, x.size(-1), 2).numel() == 2,
        "slice");
  Tensor y = zeros({2, 2});
  y[0].copy_(x[1]);
  y[1].fill_(5);
  check(y.to_vector<float>() == std::vector<float>{3, 4, 5, 5}, "x[0].copy_, fill_");
  check(x.view({2, -1}).sizes() == Shape{2, 2} && x.permute({1, 0})[0][1].item<float>() == 3 &&
            x.t()[0][1].item<float>() == 3,
        "view, permute, t");
  check(matmul(x, x).sum().item<float>() == x.matmul(x).sum().item<float>(), "matmul");
  check(bmm(x.unsqueeze(0), x.unsqueeze(0)).dim() == 3, "bmm");
  check(x.sum({1}, true).sizes() == Shape{2, 1} && sum(x, {1}, true).sizes() == Shape{2, 1},
        "sum over a dim");
  const ValuesIndices m = max(x, 1);
  check(m.values.to_vector<float>() == std::vector<float>{2, 4} &&
            m.indices.to_vector<int64_t>() == std::vector<int64_t>{1, 1} &&
            x.argmax(1).to_vector<int64_t>() == std::vector<int64_t>{1, 1},
        "max, argmax");
  check(cat({x, x}, 1).size(1) == 4 && stack({x, x}).dim() == 3, "cat, stack");
  check(where(x > 2.0, x, zeros_like(x)).sum().item<float>() == 7, "where");
  check(isfinite(x).dtype() == kBool && isnan(x).sum().item<int64_t>() == 0 &&
            x.isnan().sum().item<int64_t>() == 0 &&
            isinf((x * 30000.0).to(kFloat16)).sum().item<int64_t>() == 2,
        "isfinite, isnan, isinf");
  check(allclose(x, x + 1e-4, 1e-3) && x.allclose(x + 1e-4, 1e-3) && !allclose(x, x + 1.0) &&
            isclose(x, x).sum().item<int64_t>() == 4,
        "allclose, isclose");
  check(hg::std(x, {1}).numel() == 2 && x.std({1}).numel() == 2 &&
            flip(x, {0})[0][0].item<float>() == 3 &&
            one_hot(from_vector<int64_t>({2}), 10).sum().item<int64_t>() == 1,
        "std, flip, one_hot");
  const Tensor pair = from_vector<float>({3, 4}, {1, 2});
  check(norm(pair).item<float>() == 5 && normalize(pair)[0][1].item<float>() == 0.8f &&
            cosine_similarity(pair, pair).item<float>() > 0.999f,
        "norm, normalize, cosine_similarity");
  const Tensor square = arange(9, kFloat32).reshape({3, 3});
  check(tril(square)[0][1].item<float>() == 0 && triu(square, 1)[1][2].item<float>() == 5 &&
            roll(square, {2}, {0})[0][0].item<float>() == 3 &&
            repeat(square, {2, 1}).sizes() == Shape{6, 3},
        "tril, triu, roll, repeat");
  const Tensor series = from_vector<float>({1, 2, 3});
  check(cumsum(series, 0)[2].item<float>() == 6 && series.cumsum(0)[1].item<float>() == 3 &&
            log1p(series).sizes() == series.sizes() && series.expm1().sizes() == series.sizes(),
        "cumsum, log1p, expm1");
  const Tensor halves = from_vector<float>({-1.5f, 0.5f, 2.5f});
  check(round(halves)[2].item<float>() == 2 && floor(halves)[0].item<float>() == -2 &&
            ceil(halves)[1].item<float>() == 1 && trunc(halves)[0].item<float>() == -1 &&
            erf(halves).sizes() == halves.sizes() &&
            nn::GELU(GeluApproximate::Tanh)(halves).sizes() == halves.sizes() &&
            gelu(halves, GeluApproximate::Tanh)[2].item<float>() > 2.4f,
        "floor, ceil, round, trunc, erf, gelu tanh");
  check(prod(halves).item<float>() == -1.875f && prod(series, 0, true).sizes() == Shape{1}, "prod");
  Tensor z = x.clone();
  z.add_(x);
  z.mul_(2);
  check(z.sum().item<float>() == 40, "add_, mul_");
  z.zero_();
  check(z.sum().item<float>() == 0, "zero_");
}

void autograd_rows() {
  Tensor w = randn({3}, TensorOptions().requires_grad(true));
  Tensor h = w * 2.0;
  h.retain_grad();
  int hooked = 0;
  h.register_hook([&](const Tensor& g) {
    ++hooked;
    return g;
  });
  Tensor loss = (h * h).sum();
  std::ostringstream tape;
  autograd::print_tape(loss, tape);
  loss.backward();
  check(w.grad().defined() && h.grad().defined() && hooked == 1, "backward, grad, hooks");
  {
    NoGradGuard no_grad;
    check(!(w * 2.0).requires_grad(), "NoGradGuard");
  }
  check(!w.detach().requires_grad() && zeros({1}).requires_grad_().requires_grad(),
        "detach, requires_grad_");
  Tensor x = randn({3}, TensorOptions().requires_grad(true));
  const Tensor before = w.grad().clone();
  const std::vector<Tensor> grads = autograd::grad({(x * w).sum()}, {x, w});
  check(grads.size() == 2 && grads[0].sizes() == x.sizes() && !x.grad().defined() &&
            w.grad().allclose(before, 0.0, 0.0),
        "autograd::grad");
  const Tensor a = (x * 2.0).sum(), b = x * 3.0, g = ones({3});
  autograd::backward({a, b}, {Tensor(), g});
  check(x.grad().defined(), "autograd::backward");
  {
    NoGradGuard no_grad;
    EnableGradGuard grad_mode;
    check((x * 2.0).requires_grad(), "EnableGradGuard");
    GradModeGuard off(false);
    check(!(x * 2.0).requires_grad(), "GradModeGuard");
  }
  const auto f = [](const Tensor& t) { return tanh(t) * 2.0; };
  autograd::checkpoint(f, x).sum().backward();
  auto net = std::make_shared<nn::Sequential>(std::make_shared<nn::Linear>(3, 3),
                                              std::make_shared<nn::ReLU>(),
                                              std::make_shared<nn::Linear>(3, 1));
  nn::checkpoint_sequential(net, 2, x.unsqueeze(0)).sum().backward();
  check(net->parameters()[0].grad().defined(), "checkpoint, checkpoint_sequential");
  const auto result =
      autograd::gradcheck([](const std::vector<Tensor>& in) { return in[0] * in[0]; },
                          {randn({3}, kFloat64).requires_grad_()});
  check(static_cast<bool>(result), "gradcheck");
  check(!tape.str().empty(), "print_tape");
}

// The optimizer and scheduler rows beyond SGD, AdamW, StepLR and OneCycleLR.
void other_optimizer_rows(const std::vector<Tensor>& params) {
  optim::RMSprop rmsprop(params,
                         optim::RMSpropOptions(1e-2).alpha(0.9).momentum(0.9).centered(true));
  optim::Adagrad adagrad(params,
                         optim::AdagradOptions(1e-2).lr_decay(1e-4).initial_accumulator_value(0.1));
  check(rmsprop.param_groups()[0].options_as<optim::RMSpropOptions>().centered() &&
            adagrad.param_groups()[0].options_as<optim::AdagradOptions>().lr_decay() == 1e-4,
        "RMSprop, Adagrad");
  optim::SGD plain_sgd(params, optim::SGDOptions(0.1));
  optim::ReduceLROnPlateau plateau(plain_sgd,
                                   optim::ReduceLROnPlateauOptions().factor(0.5).patience(3));
  for (int epoch = 0; epoch < 5; ++epoch) plateau.step(1.0);  // no improvement after the first
  check(plateau.get_last_lr()[0] == 0.05, "ReduceLROnPlateau");
  {
    optim::SGD sched_sgd(params, optim::SGDOptions(0.1));
    optim::CosineAnnealingWarmRestarts restarts(sched_sgd, 10, 2);
    optim::LambdaLR decay(sched_sgd, [](int64_t e) { return std::pow(0.95, e); });
    optim::PolynomialLR polynomial(sched_sgd, 100, 2.0);
    optim::ConstantLR constant(sched_sgd, 0.25, 5);
    check(constant.get_last_lr()[0] > 0.0 && polynomial.last_epoch() == 0 &&
              decay.last_epoch() == 0 && restarts.last_epoch() == 0,
          "more schedulers");
  }
}

void modules_optim_amp() {
  auto model = std::make_shared<Net>();
  nn::Conv2d conv(nn::Conv2dOptions(1, 16, 3).padding(1));
  auto a = std::make_shared<nn::Linear>(4, 4);
  auto b = std::make_shared<nn::ReLU>();
  nn::Sequential net{a, b};
  auto seq = std::make_shared<nn::Sequential>();
  seq->push_back(std::make_shared<nn::Linear>(4, 4));
  auto made = std::make_shared<nn::Sequential>(a, b);
  check(made->size() == 2 && net.size() == 2 && seq->size() == 1, "Sequential");
  auto layers = std::make_shared<nn::ModuleList>(a, b);
  Tensor h = randn({3, 4});
  for (const auto& layer : *layers) h = layer->forward(h);
  check(layers->at<nn::Linear>(0) == a && (*layers)[-1] == b && h.sizes() == Shape{3, 4},
        "ModuleList");
  const Tensor x = randn({8, 2});
  check(model->forward(x).sizes() == (*model)(x).sizes(), "forward, operator()");
  check(model->parameters().size() == 2 && model->named_parameters().size() == 2, "parameters");
  model->eval();
  model->train();
  const Tensor t = from_vector<int64_t>({0, 1, 2, 3, 4, 5, 6, 7});
  check(cross_entropy(model->forward(x), t, Reduction::Mean, -100, 0.1).numel() == 1 &&
            mse_loss(x, x).item<float>() == 0 && l1_loss(x, x + 1.0).item<float>() == 1 &&
            smooth_l1_loss(x, x, Reduction::Mean, 0.5).item<float>() == 0 &&
            huber_loss(x, x + 4.0, Reduction::Mean, 2).item<float>() == 6,
        "losses");
  nn::Conv1d conv1(nn::Conv1dOptions(8, 16, 5).stride(2));
  nn::GroupNorm group_norm_layer(4, 16);
  check(group_norm_layer(conv1(randn({2, 8, 21}))).sizes() == Shape{2, 16, 9}, "Conv1d, GroupNorm");
  nn::Dropout2d channel_dropout(0.1);
  check(channel_dropout(randn({2, 16, 3, 3})).sizes() == Shape{2, 16, 3, 3} &&
            nn::MaxPool1d(2)(randn({2, 16, 9})).sizes() == Shape{2, 16, 4} &&
            nn::AdaptiveAvgPool1d(1)(randn({2, 16, 9})).sizes() == Shape{2, 16, 1},
        "Dropout2d, 1-D pools");
  nn::ReflectionPad2d reflection(1);
  nn::Upsample upsample(nn::UpsampleOptions().scale_factor(2).mode(InterpolateMode::Bilinear));
  const Tensor image = randn({1, 3, 4, 4});
  check(upsample(reflection(image)).sizes() == Shape{1, 3, 12, 12} &&
            pad(image, {1, 1, 2, 0}, PadMode::Reflect).sizes() == Shape{1, 3, 6, 6} &&
            interpolate(image, InterpolateOptions().size({7, 7})).sizes() == Shape{1, 3, 7, 7} &&
            group_norm(image, 3).sizes() == image.sizes(),
        "padding, upsampling, group_norm");
  const Tensor logits = randn({2, 5});
  check(nn::Softplus(2)(logits).sizes() == logits.sizes() &&
            nn::ELU(0.5)(logits).sizes() == logits.sizes() &&
            nn::Mish()(logits).sizes() == logits.sizes() &&
            nn::LogSoftmax(1)(logits).sizes() == logits.sizes() &&
            log1p(abs(logits)).sizes() == logits.sizes(),
        "activations");
  nn::CrossEntropyLoss criterion(nn::CrossEntropyLossOptions().label_smoothing(0.1));
  check(criterion(model->forward(x), t).item<float>() ==
                cross_entropy(model->forward(x), t, Reduction::Mean, -100, 0.1).item<float>() &&
            nn::MSELoss()(x, x).item<float>() == 0 && nn::L1Loss()(x, x).item<float>() == 0 &&
            nn::HuberLoss(Reduction::Sum)(x, x).item<float>() == 0,
        "loss modules");
  optim::SGD sgd(model->parameters(), optim::SGDOptions(0.1).momentum(0.9).nesterov(true));
  optim::AdamW adamw(model->parameters(), optim::AdamWOptions(1e-3).weight_decay(0.01));
  optim::StepLR step_lr(sgd, 10, 0.5);
  optim::OneCycleLR one_cycle(adamw, 0.4, 100);
  other_optimizer_rows(model->parameters());
  amp::GradScaler scaler;
  sgd.zero_grad();
  Tensor loss;
  {
    amp::AutocastGuard autocast(kFloat16);
    loss = cross_entropy(model->forward(x), t);
  }
  scaler.scale(loss).backward();
  scaler.step(sgd);
  scaler.update();
  optim::clip_grad_norm_(model->parameters(), 1.0);
  step_lr.step();
  const std::string path =
      (std::filesystem::temp_directory_path() / "hg_from_pytorch_check.safetensors").string();
  nn::save(*model, path);
  nn::load(*model, path);
  std::remove(path.c_str());
  auto half_model = std::make_shared<Net>();
  optim::SGD half_sgd(half_model->parameters(), optim::SGDOptions(0.1));
  const amp::AmpConfig config = amp::initialize(*half_model, half_sgd, amp::OptLevel::O2, kFloat16);
  check(config.master_weights && half_model->fc->weight.dtype() == kFloat16, "amp::initialize");
  model->to(kFloat16);
  if (cuda::is_available()) model->to(kCUDA);
  check(model->fc->weight.dtype() == kFloat16, "model->to(kFloat16)");
}

// The rows for transposed convolution, attention, the transformer encoder, recurrent layers and
// kl_div.
void upsampling_attention_rows() {
  nn::ConvTranspose2d up(
      nn::ConvTranspose2dOptions(16, 8, 3).stride(2).padding(1).output_padding(1));
  const Tensor feature_map = randn({2, 16, 5, 5});
  check(up(feature_map).sizes() == Shape{2, 8, 10, 10} &&
            conv_transpose2d(feature_map, randn({16, 4, 2, 2}), Tensor(), {2, 2}).sizes() ==
                Shape{2, 4, 10, 10},
        "ConvTranspose2d, conv_transpose2d");
  nn::MultiheadAttention mha(nn::MultiheadAttentionOptions(64, 4).batch_first(true));
  const Tensor q = randn({2, 7, 64}), kv = randn({2, 9, 64});
  const Tensor pad = zeros({2, 9}, kBool);
  auto [out, w] = mha.forward(q, kv, kv, pad);
  check(out.sizes() == q.sizes() && w.sizes() == Shape{2, 7, 9}, "MultiheadAttention");
  check(scaled_dot_product_attention(q, q, q, Tensor(), 0.0, true).sizes() == q.sizes(),
        "scaled_dot_product_attention");
  nn::TransformerEncoder encoder(
      nn::TransformerEncoderLayerOptions(64, 4).batch_first(true).norm_first(true), 6);
  check(encoder.forward(q).sizes() == q.sizes(), "TransformerEncoder");
  nn::LSTM lstm(nn::LSTMOptions(32, 64).num_layers(2).batch_first(true));
  const Tensor sequence = randn({3, 5, 32});
  auto [lstm_out, state] = lstm.forward(sequence);
  auto [h, c] = state;
  nn::GRU gru(32, 64);
  auto [gru_out, gru_h] = gru.forward(sequence, zeros({1, 5, 64}));
  check(lstm_out.sizes() == Shape{3, 5, 64} && h.sizes() == Shape{2, 3, 64} &&
            c.sizes() == h.sizes() && gru_out.sizes() == Shape{3, 5, 64} &&
            gru_h.sizes() == Shape{1, 5, 64},
        "LSTM, GRU");
  nn::RNN relu_rnn(nn::RNNOptions(32, 64), nn::RNNNonlinearity::ReLU);
  nn::LSTMCell cell(32, 64);
  Tensor cell_h = zeros({5, 64}), cell_c = zeros({5, 64});
  std::tie(cell_h, cell_c) = cell.forward(sequence.select(0, 0), std::make_tuple(cell_h, cell_c));
  check(std::get<0>(relu_rnn.forward(sequence)).sizes() == Shape{3, 5, 64} &&
            cell_c.sizes() == Shape{5, 64},
        "RNN, LSTMCell");
  nn::Embedding tokens(nn::EmbeddingOptions(1000, 64).padding_idx(0));
  check(tokens(from_vector<int64_t>({0, 7})).sizes() == Shape{2, 64}, "Embedding padding_idx");
  const Tensor logp = log_softmax(randn({4, 5}), 1), target = softmax(randn({4, 5}), 1);
  check((kl_div(logp, target, Reduction::Sum) / logp.size(0)).item<float>() >= 0.0f &&
            nn::KLDivLoss(Reduction::Mean, true)(logp, logp).item<float>() == 0.0f,
        "kl_div, KLDivLoss");
}

void sequence_rows() {
  nn::Transformer model(
      nn::TransformerOptions(64, 4).num_encoder_layers(2).num_decoder_layers(2).batch_first(true));
  const Tensor src = randn({2, 9, 64}), tgt = randn({2, 7, 64});
  const Tensor causal = nn::Transformer::generate_square_subsequent_mask(7);
  nn::TransformerDecoder decoder(nn::TransformerDecoderLayerOptions(64, 4).batch_first(true), 2);
  check(model.forward(src, tgt, Tensor(), causal).sizes() == tgt.sizes() &&
            decoder.forward(tgt, src, causal).sizes() == tgt.sizes(),
        "Transformer, TransformerDecoder");
  using namespace nn::utils::rnn;
  nn::LSTM lstm(nn::LSTMOptions(8, 16).batch_first(true));
  const Tensor padded = randn({3, 5, 8});
  const PackedSequence packed =
      pack_padded_sequence(padded, from_vector<int64_t>({3, 5, 2}), true, false);
  auto [packed_out, state] = lstm.forward(packed);
  auto [out, lengths] = pad_packed_sequence(packed_out, true);
  check(out.sizes() == Shape{3, 5, 16} && lengths.to_vector<int64_t>()[1] == 5 &&
            std::get<0>(state).sizes() == Shape{1, 3, 16} &&
            pad_sequence({randn({2, 8}), randn({4, 8})}, true).sizes() == Shape{2, 4, 8},
        "pack_padded_sequence, pad_packed_sequence, pad_sequence");
  nn::LSTM projected(nn::LSTMOptions(32, 64).proj_size(16));
  check(std::get<0>(projected.forward(randn({5, 3, 32}))).sizes() == Shape{5, 3, 16},
        "LSTM proj_size");
  const Tensor x_t = randn({4, 8}), w_ih = randn({64, 8}), w_hh = randn({64, 16});
  Tensor h_t = zeros({4, 16}), c_t = zeros({4, 16});
  std::tie(h_t, c_t) = lstm_cell_pointwise(linear(x_t, w_ih), linear(h_t, w_hh), c_t);
  check(h_t.sizes() == Shape{4, 16} &&
            gru_cell_pointwise(randn({4, 48}), randn({4, 48}), h_t).sizes() == Shape{4, 16},
        "lstm_cell_pointwise, gru_cell_pointwise");
  auto [seq_out, h_n, c_n] =
      lstm_sequence(linear(randn({12, 8}), w_ih), {4, 4, 4}, h_t, c_t, w_hh, Tensor());
  check(seq_out.sizes() == Shape{12, 16} && c_n.sizes() == Shape{4, 16}, "lstm_sequence");
  const Tensor v = from_vector<float>({1.2345f, -2.5f, 0.5f});
  check(v.round(2)[0].item<float>() == 1.23f && round(v, 1)[0].item<float>() == 1.2f &&
            v.floor()[1].item<float>() == -3 && v.neg()[1].item<float>() == 2.5f &&
            v.chunk(3).size() == 3,
        "round(x, decimals), x.floor(), x.neg(), x.chunk");
}

void data_rows() {
  const Tensor images = rand({10, 3, 8, 8}), labels = arange(10);
  data::Dataset ds(images, labels,
                   {data::random_crop(8, 2), data::random_horizontal_flip(),
                    data::normalize({0.5f, 0.5f, 0.5f}, {0.25f, 0.25f, 0.25f})});
  data::DataLoader loader(ds, {.batch_size = 4, .shuffle = true});
  // the readers need the data sets' files (tools/fetch_data.sh): named here, not called
  [[maybe_unused]] auto* mnist = &data::load_mnist;
  [[maybe_unused]] auto* cifar10 = &data::load_cifar10;
  int64_t seen = 0, labels_sum = 0;
  for (auto& batch : loader) {
    seen += batch.data.size(0);
    labels_sum += batch.target.sum().item<int64_t>();
  }
  check(seen == 10 && labels_sum == 45, "DataLoader");
  // random_split(ds, [8, 2]), on bytes as the MNIST and CIFAR-10 readers give them
  const data::Dataset bytes((rand({10, 1, 4, 4}) * 255).to(kUInt8), labels);
  const Tensor order = randperm(bytes.size());
  const Tensor train_rows = order.narrow(0, 0, 8), val_rows = order.narrow(0, 8, 2);
  const data::Dataset train(index_select(bytes.samples(), 0, train_rows),
                            index_select(bytes.labels(), 0, train_rows));
  const data::Dataset val(index_select(bytes.samples(), 0, val_rows),
                          index_select(bytes.labels(), 0, val_rows));
  check(train.size() == 8 && val.size() == 2 && train.samples().dtype() == kUInt8 &&
            train.labels().sum().item<int64_t>() + val.labels().sum().item<int64_t>() == 45,
        "random_split");
}

}  // namespace

int from_pytorch_checks() {
  tensors();
  autograd_rows();
  modules_optim_amp();
  sequence_rows();
  upsampling_attention_rows();
  data_rows();
  std::cout << (failures ? "FAIL " : "ok   ")
            << "docs/from_pytorch.md: every row compiles and runs\n";
  return failures;
}
