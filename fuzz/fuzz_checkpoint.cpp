// train::Checkpoint::load_from_memory into a full fp16 O2 setup (model, AdamW with master
// weights, GradScaler, StepLR, generator, DataLoader). Besides crashes it checks the all-or-
// nothing promise: when a load throws, the weights, masters and counters must be unchanged.
#include <cstring>

#include "fuzz_util.h"
#include "halfgrad/halfgrad.h"

namespace {

struct Setup {
  Setup()
      : model(std::make_shared<hg::nn::Sequential>(
            std::initializer_list<std::shared_ptr<hg::nn::Module>>{
                std::make_shared<hg::nn::Linear>(3, 4), std::make_shared<hg::nn::ReLU>(),
                std::make_shared<hg::nn::Linear>(4, 2)})),
        opt(model->parameters(), hg::optim::AdamWOptions(0.01)),
        amp(hg::amp::initialize(*model, opt, hg::amp::OptLevel::O2, hg::kFloat16)),
        sched(opt, 2, 0.5),
        gen(5),
        loader(hg::data::Dataset(hg::zeros({10, 3}), hg::zeros({10}, hg::kInt64)),
               {.batch_size = 4}) {
    ckpt.model(*model).optimizer(opt).scaler(scaler).scheduler(sched).generator(gen).loader(loader);
  }
  // Everything a failed load must leave as it was, as bytes.
  std::vector<uint8_t> fingerprint() const {
    std::vector<uint8_t> out;
    auto add = [&](const void* p, size_t n) {
      const auto* b = static_cast<const uint8_t*>(p);
      out.insert(out.end(), b, b + n);
    };
    for (const hg::Tensor& p : model->parameters()) {
      add(p.data_ptr(), p.numel() * hg::itemsize(p.dtype()));
      const hg::Tensor m = opt.master_weight(p);
      if (m.defined()) add(m.data_ptr(), m.numel() * 4);
    }
    const double scale = scaler.get_scale(), lr = opt.param_groups()[0].lr();
    const int64_t epoch = sched.last_epoch();
    const hg::Generator::State g = gen.state();
    const hg::data::DataLoaderState d = loader.state();
    add(&scale, sizeof scale), add(&lr, sizeof lr), add(&epoch, sizeof epoch);
    add(&g, sizeof g), add(&d, sizeof d);
    return out;
  }

  std::shared_ptr<hg::nn::Sequential> model;
  hg::optim::AdamW opt;
  hg::amp::AmpConfig amp;
  hg::amp::GradScaler scaler;
  hg::optim::StepLR sched;
  hg::Generator gen;
  hg::data::DataLoader loader;
  hg::train::Checkpoint ckpt;
};

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const std::string dir = hg::fuzz::seed_dir();
  if (dir.empty()) return 0;
  Setup s;
  s.ckpt.save(dir + "/fresh.ckpt", {.epoch = 1, .step = 2, .scalars = {{"best", 0.5}}});
  // One with optimizer state (exp_avg, exp_avg_sq, masters, steps).
  s.model->parameters()[0].set_grad(hg::ones({4, 3}, hg::kFloat16));
  s.opt.step();
  s.sched.step();
  s.ckpt.save(dir + "/stepped.ckpt", {.epoch = 1, .step = 3});
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Setup s;
  const std::vector<uint8_t> before = s.fingerprint();
  try {
    s.ckpt.load_from_memory(data, size, "fuzz-input");
  } catch (const hg::Error&) {
    if (s.fingerprint() != before) __builtin_trap();  // a failed load changed something
  }
  return 0;
}
