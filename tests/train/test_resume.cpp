// Resuming in a new process reproduces an uninterrupted run bit for bit: train N steps straight;
// train k, save, then in a fresh process load and train N - k; every weight, optimizer buffer,
// master weight, scaler/scheduler/generator/data-order value must match, and so must the files.
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>

#include "child_process.h"
#include "test_util.h"

using namespace hg;

namespace {

// One small training setup: shuffled data with random flips, dropout (the default generator),
// an LR schedule per step, and in fp16 O2 a dynamic GradScaler that grows and backs off.
struct Run {
  explicit Run(bool fp16, uint64_t init_seed) {
    manual_seed(1234);  // the data, identical in every process
    const Tensor x = randn({36, 1, 4, 4});
    const Tensor y = randint(0, 4, {36});
    loader = std::make_unique<data::DataLoader>(
        data::Dataset(x, y, {data::random_horizontal_flip()}),
        data::DataLoaderOptions{.batch_size = 8, .shuffle = true, .seed = 5, .prefetch = 2});
    manual_seed(init_seed);  // the resumed process starts from other weights on purpose
    model = std::make_shared<nn::Sequential>(std::initializer_list<std::shared_ptr<nn::Module>>{
        std::make_shared<nn::Flatten>(), std::make_shared<nn::Linear>(16, 32),
        std::make_shared<nn::ReLU>(), std::make_shared<nn::Dropout>(0.25),
        std::make_shared<nn::Linear>(32, 4)});
    if (fp16) {
      opt = std::make_unique<optim::AdamW>(model->parameters(), optim::AdamWOptions(3e-3));
      amp = amp::initialize(*model, *opt, amp::OptLevel::O2, kFloat16);
      scaler = std::make_unique<amp::GradScaler>(
          amp::GradScalerOptions().init_scale(std::ldexp(1.0, 22)).growth_interval(2));
      sched = std::make_unique<optim::StepLR>(*opt, 4, 0.7);
    } else {
      opt = std::make_unique<optim::SGD>(
          model->parameters(),
          optim::SGDOptions(0.05).momentum(0.9).nesterov(true).weight_decay(1e-3));
      scaler = std::make_unique<amp::GradScaler>(amp::GradScalerOptions().enabled(false));
      sched = std::make_unique<optim::OneCycleLR>(*opt, 0.1, 40);
    }
    ckpt.model(*model).optimizer(*opt).scaler(*scaler).scheduler(*sched).loader(*loader).generator(
        default_generator());
  }

  void train_until(int64_t until) {
    while (step < until) {
      for (auto& batch : *loader) {
        opt->zero_grad();
        Tensor loss;
        {
          const auto region = amp.autocast();
          loss = cross_entropy((*model)(batch.data), batch.target);
        }
        scaler->scale(loss).backward();
        scaler->step(*opt);
        scaler->update();
        sched->step();
        if (++step == until) break;
      }
    }
  }

  std::unique_ptr<data::DataLoader> loader;
  std::shared_ptr<nn::Sequential> model;
  std::unique_ptr<optim::Optimizer> opt;
  amp::AmpConfig amp;
  std::unique_ptr<amp::GradScaler> scaler;
  std::unique_ptr<optim::LRScheduler> sched;
  train::Checkpoint ckpt;
  int64_t step = 0;
};

constexpr int64_t kTotalSteps = 13;  // 5 batches per epoch: ends inside the third epoch

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() /
          ("hg_resume_" + std::to_string(::getpid()) + "_" + name))
      .string();
}

bool same_bits(const Tensor& a, const Tensor& b) {
  if (a.dtype() != b.dtype() || a.sizes() != b.sizes()) return false;
  const Tensor ca = a.contiguous(), cb = b.contiguous();
  return std::memcmp(ca.data_ptr(), cb.data_ptr(), ca.numel() * itemsize(ca.dtype())) == 0;
}

// Every tensor and metadata entry of two checkpoint files, named when they differ.
void expect_same_checkpoints(const std::string& a, const std::string& b) {
  std::map<std::string, std::string> meta_a, meta_b;
  const nn::TensorMap ta = nn::load_safetensors(a, &meta_a), tb = nn::load_safetensors(b, &meta_b);
  REQUIRE(ta.size() == tb.size());
  int tensors_compared = 0;
  for (const auto& entry : ta) {  // not structured bindings: clang 14 cannot capture them
    const std::string& name = entry.first;
    REQUIRE_MESSAGE(tb.count(name), name);
    CHECK_MESSAGE(same_bits(entry.second, tb.at(name)), "tensor differs: " << name);
    ++tensors_compared;
  }
  for (const auto& entry : meta_a) {
    const std::string& key = entry.first;
    CHECK_MESSAGE(meta_b[key] == entry.second, "metadata " << key);
  }
  CHECK(meta_a.size() == meta_b.size());
  MESSAGE(tensors_compared << " tensors and " << meta_a.size() << " metadata entries compared");
  std::ifstream fa(a, std::ios::binary), fb(b, std::ios::binary);
  const std::string bytes_a((std::istreambuf_iterator<char>(fa)), {}),
      bytes_b((std::istreambuf_iterator<char>(fb)), {});
  CHECK(bytes_a == bytes_b);
}

void check_resume_in_new_process(bool fp16, int64_t k) {
  CAPTURE(fp16);
  CAPTURE(k);
  const std::string mode = fp16 ? "fp16" : "fp32";
  const std::string straight = temp_path(mode + "_straight"), half = temp_path(mode + "_half"),
                    resumed = temp_path(mode + "_resumed");
  {
    Run run(fp16, 7);
    run.train_until(kTotalSteps);
    run.ckpt.save(straight, {.epoch = 0, .step = run.step});
    if (fp16) CHECK(run.scaler->skipped_steps() > 0);  // the overflow path is part of the test
  }
  REQUIRE(hg::test::run_child("train;" + mode + ";-;" + std::to_string(k) + ";" + half) == 0);
  REQUIRE(hg::test::run_child("train;" + mode + ";" + half + ";" + std::to_string(kTotalSteps) +
                              ";" + resumed) == 0);
  expect_same_checkpoints(straight, resumed);
  for (const auto& p : {straight, half, resumed}) std::filesystem::remove(p);
}

}  // namespace

// The child's side: "train;<fp32|fp16>;<resume file or ->;<until step>;<save file>".
TEST_CASE("child process: train, resume, save (does nothing unless spawned by a test)") {
  const std::vector<std::string> task = hg::test::split_task(hg::test::child_task());
  if (task.size() != 5 || task[0] != "train") return;
  Run run(task[1] == "fp16", task[2] == "-" ? 7 : 999);
  if (task[2] != "-") run.step = run.ckpt.load(task[2]).step;
  run.train_until(std::stoll(task[3]));
  run.ckpt.save(task[4], {.epoch = 0, .step = run.step});
}

TEST_CASE("resume in a new process reproduces an uninterrupted fp32 run bit for bit") {
  check_resume_in_new_process(false, 7);   // mid-epoch
  check_resume_in_new_process(false, 10);  // at an epoch boundary
}

TEST_CASE("resume in a new process reproduces an uninterrupted fp16 O2 run (dynamic scaler)") {
  check_resume_in_new_process(true, 6);
}
