#include "training.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "../common/models.h"

namespace hg::tour {

// ---- specs and stats helpers ----

std::string RunSpec::label() const {
  std::ostringstream out;
  out << precision << ' ' << level;
  if (loss_scale == "none")
    out << ", no loss scaling";
  else if (loss_scale == "dynamic")
    out << ", dynamic loss scale";
  else
    out << ", static loss scale " << loss_scale;
  if (loss_scale == "dynamic" && growth_interval != 2000)
    out << " (growth every " << growth_interval << ")";
  if (lr != 0.05) out << ", lr " << lr;
  if (loss_factor != 1.0) out << ", loss x 2^" << std::lround(std::log2(loss_factor));
  return out.str();
}

std::string RunSpec::key() const {
  std::ostringstream out;
  out << precision << '|' << level << '|' << loss_scale << '|' << growth_interval << '|' << lr
      << '|' << loss_factor;
  return out.str();
}

void merge_into(amp::PrecisionStats& a, const amp::PrecisionStats& b) {
  a.count += b.count;
  a.zeros += b.zeros;
  a.overflow += b.overflow;
  a.flush_to_zero += b.flush_to_zero;
  a.subnormal += b.subnormal;
  a.nonfinite += b.nonfinite;
  for (const auto& [bin, n] : b.log2_histogram) a.log2_histogram[bin] += n;
}

double share_below(const amp::PrecisionStats& s, int exponent) {
  int64_t n = 0;
  for (const auto& [bin, count] : s.log2_histogram) n += bin < exponent ? count : 0;
  return s.share(n);
}

double share_at_or_above(const amp::PrecisionStats& s, int exponent) {
  int64_t n = 0;
  for (const auto& [bin, count] : s.log2_histogram) n += bin >= exponent ? count : 0;
  return s.share(n);
}

// ---- data ----

struct Trainer::Data {
  std::unique_ptr<data::Dataset> train, test;
};

Trainer::Trainer(TrainerOptions options) : options_(std::move(options)) {}
Trainer::~Trainer() = default;

void Trainer::load() {
  if (data_) return;
  data_ = std::make_unique<Data>();
  data::LabeledImages images = data::load_mnist(options_.data, true);
  if (options_.limit > 0 && options_.limit < images.labels.size(0)) {
    images = {images.images.narrow(0, 0, options_.limit).contiguous(),
              images.labels.narrow(0, 0, options_.limit).contiguous()};
  }
  // Normalised with the training images' own statistics, as examples/mnist does.
  const Tensor pixels = images.images.to(kFloat64) / 255.0;
  const auto mean_pixel = static_cast<float>(mean(pixels).item<double>());
  const auto std_pixel = static_cast<float>(std::sqrt(var(pixels).item<double>()));
  const std::vector<data::Transform> normalize{data::normalize({mean_pixel}, {std_pixel})};
  data_->train = std::make_unique<data::Dataset>(images, normalize);
  data_->test = std::make_unique<data::Dataset>(data::load_mnist(options_.data, false), normalize);
}

int64_t Trainer::steps_per_epoch() {
  load();
  const int64_t n = data_->train->size();
  return (n + options_.batch - 1) / options_.batch;
}

std::vector<int64_t> Trainer::capture_steps() {
  if (!options_.capture_steps.empty()) return options_.capture_steps;
  const int64_t total = steps_per_epoch() * options_.epochs;
  return {1, std::max<int64_t>(2, total / 10), std::max<int64_t>(3, total / 2), total};
}

std::string Trainer::describe() const {
  std::ostringstream out;
  out << options_.model << ", " << options_.epochs << " epoch(s) on "
      << (options_.limit > 0 ? std::to_string(options_.limit) : std::string("all 60000"))
      << " MNIST training images, batch " << options_.batch
      << ", SGD nesterov 0.9, weight decay 5e-4, one-cycle lr, seed " << options_.seed;
  return out.str();
}

// ---- one run ----

namespace {

using NamedTensor = std::pair<std::string, Tensor>;

// model(x), keeping every layer output (but Flatten's, a view of the one before) with its
// gradient retained when `outputs` is given.
Tensor forward(nn::Sequential& model, const Tensor& x, std::vector<NamedTensor>* outputs) {
  if (outputs == nullptr) return model(x);
  Tensor h = x;
  for (int64_t i = 0; i < model.size(); ++i) {
    const auto layer = model[i];
    h = (*layer)(h);
    if (layer->type_name() == "Flatten") continue;
    h.retain_grad();
    outputs->emplace_back(std::to_string(i) + ":" + layer->type_name(), h);
  }
  return h;
}

Capture capture(int64_t step, const std::vector<NamedTensor>& outputs) {
  Capture c;
  c.step = step;
  c.all.dtype = kFloat16;
  for (const auto& [name, out] : outputs) {
    const Tensor grad = out.grad();
    if (!grad.defined()) continue;
    c.layers.emplace_back(name, amp::precision_stats(grad, kFloat16));
    merge_into(c.all, c.layers.back().second);
  }
  return c;
}

double evaluate(nn::Module& model, const data::Dataset& test, const amp::AmpConfig& amp) {
  NoGradGuard no_grad;
  const auto region = amp.autocast();
  model.eval();
  data::DataLoader loader(test, {.batch_size = 1000, .shuffle = false});
  int64_t correct = 0;
  for (auto& batch : loader)
    correct += sum(eq(argmax(model(batch.data), 1), batch.target)).item<int64_t>();
  model.train();
  return static_cast<double>(correct) / static_cast<double>(test.size());
}

amp::GradScalerOptions scaler_options(const RunSpec& spec) {
  if (spec.loss_scale == "none") return amp::GradScalerOptions().enabled(false);
  if (spec.loss_scale == "dynamic")
    return amp::GradScalerOptions().growth_interval(spec.growth_interval);
  return amp::GradScalerOptions().init_scale(std::stod(spec.loss_scale)).dynamic(false);
}

}  // namespace

const RunResult& Trainer::run(const RunSpec& spec) {
  auto it = runs_.find(spec.key());
  if (it != runs_.end()) return it->second;
  RunResult r = train(spec);
  std::printf("  [run] %-58s test accuracy %6.2f%%  (%lld steps, %.0f s)\n", spec.label().c_str(),
              100 * r.accuracy, static_cast<long long>(r.steps), r.seconds);
  std::fflush(stdout);
  return runs_.emplace(spec.key(), std::move(r)).first->second;
}

RunResult Trainer::train(const RunSpec& spec) {
  load();
  const auto start = std::chrono::steady_clock::now();
  manual_seed(options_.seed);
  auto model = examples::make_mnist_model(options_.model);
  const int64_t total = steps_per_epoch() * options_.epochs;
  const double lr = spec.lr / spec.loss_factor;
  optim::SGD opt(
      model->parameters(),
      optim::SGDOptions(lr).momentum(0.9).nesterov(true).weight_decay(5e-4 * spec.loss_factor));
  optim::OneCycleLR schedule(opt, lr, total);
  const bool fp32 = spec.precision == "fp32";
  const amp::AmpConfig amp = amp::initialize(*model, opt, amp::parse_opt_level(spec.level),
                                             spec.precision == "bf16" ? kBFloat16 : kFloat16);
  amp::GradScaler scaler(scaler_options(spec));
  opt.count_lost_updates(!fp32);
  const std::vector<int64_t> wanted = fp32 ? capture_steps() : std::vector<int64_t>{};

  RunResult r;
  r.spec = spec;
  data::DataLoader loader(*data_->train,
                          {.batch_size = options_.batch, .shuffle = true, .seed = options_.seed});
  for (int64_t epoch = 0; epoch < options_.epochs; ++epoch) {
    loader.set_epoch(epoch);
    for (auto& batch : loader) {
      const int64_t step = ++r.steps;
      const bool capturing = std::find(wanted.begin(), wanted.end(), step) != wanted.end();
      std::vector<NamedTensor> outputs;
      opt.zero_grad();
      Tensor loss;
      {
        const auto region = amp.autocast();
        loss = cross_entropy(forward(*model, batch.data, capturing ? &outputs : nullptr),
                             batch.target);
      }
      r.scale_per_step.push_back(scaler.get_scale());
      scaler.scale(spec.loss_factor == 1.0 ? loss : loss * spec.loss_factor).backward();
      if (capturing) r.captures.push_back(capture(step, outputs));
      const bool stepped = scaler.step(opt);
      scaler.update();
      schedule.step();
      if (stepped && !fp32) r.lost_share.emplace_back(step, opt.last_step_lost_updates().share());
      r.final_loss = loss.item<double>();
      if (!std::isfinite(r.final_loss)) ++r.nonfinite_losses;
    }
  }
  r.accuracy = evaluate(*model, *data_->test, amp);
  r.skipped = scaler.skipped_steps();
  r.final_scale = scaler.get_scale();
  r.lost_total = opt.total_lost_updates();
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

}  // namespace hg::tour
