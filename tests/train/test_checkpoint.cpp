// train::Checkpoint in one process: what it restores, what it refuses, and that a failed load
// changes nothing.
#include <filesystem>
#include <limits>

#include "test_util.h"

using namespace hg;
using hg::test::expect_error;
using hg::test::same_bits;

namespace {

std::string temp_file(const std::string& name) {
  return (std::filesystem::temp_directory_path() /
          ("hg_ckpt_" + std::to_string(::getpid()) + "_" + name))
      .string();
}

data::Dataset small_dataset() {  // the same in every Setup
  manual_seed(11);
  return data::Dataset(randn({20, 3}), randint(0, 2, {20}));
}

struct Setup {
  Setup() : loader(small_dataset(), {.batch_size = 4, .shuffle = true, .seed = 3}) {}
  nn::Linear fc{3, 2};
  optim::Adam opt{fc.parameters(), optim::AdamOptions(0.01)};
  optim::StepLR sched{opt, 2, 0.5};
  amp::GradScaler scaler{amp::GradScalerOptions().init_scale(1024)};
  Generator gen{42};
  data::DataLoader loader;
  train::Checkpoint ckpt() { return ckpt(loader); }
  // this setup's objects with another loader registered
  train::Checkpoint ckpt(data::DataLoader& with_loader) {
    train::Checkpoint c;
    c.model(fc).optimizer(opt).scheduler(sched).scaler(scaler).generator(gen).loader(with_loader);
    return c;
  }
  void train_steps(int n) {
    int done = 0;
    for (auto& batch : loader) {
      opt.zero_grad();
      scaler.scale(cross_entropy(fc(batch.data), batch.target)).backward();
      scaler.step(opt);
      scaler.update();
      sched.step();
      gen.reserve(3);
      if (++done == n) break;
    }
  }
};

}  // namespace

TEST_CASE("Checkpoint restores model, optimizer, scheduler, scaler, generator and data order") {
  const std::string path = temp_file("all.ckpt");
  Setup a;
  a.train_steps(3);
  a.ckpt().save(path, {.epoch = 1, .step = 3, .scalars = {{"best", 0.25}, {"third", 1.0 / 3}}});
  Setup b;
  const train::TrainingProgress p = b.ckpt().load(path);
  CHECK(p.epoch == 1);
  CHECK(p.step == 3);
  CHECK(p.scalars.at("third") == 1.0 / 3);  // doubles round-trip exactly
  CHECK(same_bits(a.fc.weight, b.fc.weight));
  CHECK(same_bits(a.opt.state(a.fc.weight)->buffers.at("exp_avg_sq"),
                  b.opt.state(b.fc.weight)->buffers.at("exp_avg_sq")));
  CHECK(b.sched.last_epoch() == 3);
  CHECK(b.scaler.get_scale() == a.scaler.get_scale());
  CHECK(b.gen.state() == a.gen.state());
  CHECK(b.loader.state() == a.loader.state());
  CHECK(b.loader.state().next_batch == 3);
  // Both continue identically (a's loop broke off mid-pass; a new for-loop would start a new
  // pass, so it continues from its own state like a resumed run does).
  a.loader.set_state(a.loader.state());
  a.train_steps(4);
  b.train_steps(4);
  CHECK(same_bits(a.fc.weight, b.fc.weight));
  std::filesystem::remove(path);
}

TEST_CASE("Checkpoint refuses parts that are missing or that nobody registered") {
  const std::string path = temp_file("parts.ckpt");
  Setup a;
  train::Checkpoint model_only;
  model_only.model(a.fc);
  model_only.save(path);
  expect_error(
      [&] { a.ckpt().load(path); },
      {"Checkpoint.load: ", path, "has no optimizer state, but an optimizer was registered"});
  a.ckpt().save(path);
  expect_error([&] { model_only.load(path); },
               {"has optimizer state, but no optimizer was registered"});
  std::filesystem::remove(path);
  expect_error([&] { a.ckpt().load(std::filesystem::temp_directory_path().string()); },
               {"Checkpoint.load", "not a regular file (a directory)"});
}

TEST_CASE("Checkpoint refuses a data position saved by a loader of another layout") {
  // batch 3 of a pass of 4-sample batches is other samples in a pass of 2-sample batches
  const std::string path = temp_file("layout.ckpt");
  Setup a;
  a.train_steps(2);
  a.ckpt().save(path);
  for (const data::DataLoaderOptions& other :
       {data::DataLoaderOptions{.batch_size = 2, .shuffle = true, .seed = 3},
        data::DataLoaderOptions{.batch_size = 4, .shuffle = false, .seed = 3}}) {
    data::DataLoader loader(small_dataset(), other);
    expect_error(
        [&] { a.ckpt(loader).load(path); },
        {"Checkpoint.load: ", "saved by a loader over 20 samples, batch_size 4, shuffle on",
         "the registered loader has 20 samples", "visit other samples"});
  }
  Setup b;  // the same layout loads
  b.ckpt().load(path);
  CHECK(b.loader.state() == a.loader.state());
  // at a pass's first batch only the order matters: another batch_size resumes there
  Setup c;
  c.loader.set_epoch(1);
  const std::string boundary = temp_file("boundary.ckpt");
  c.ckpt().save(boundary);
  data::DataLoader larger(small_dataset(), {.batch_size = 5, .shuffle = true, .seed = 3});
  c.ckpt(larger).load(boundary);
  CHECK(larger.state() == c.loader.state());
  // saved past a pass's last batch (inside the loop, at its end): the larger loader's pass end
  Setup d;
  d.loader.set_epoch(1);
  for (auto& batch : d.loader) {
    (void)batch;
    d.ckpt().save(boundary);  // the last one is saved at batch 5 of 5: next_batch 5
  }
  REQUIRE(d.loader.state().next_batch == 0);  // after the loop: the next epoch
  data::DataLoader larger_end(small_dataset(), {.batch_size = 5, .shuffle = true, .seed = 3});
  d.ckpt(larger_end).load(boundary);
  CHECK(larger_end.state() == data::DataLoaderState{3, 1, 4});  // epoch 1, past its 4 batches
  // a file from before the layout was recorded loads unchecked, mid-pass too
  std::map<std::string, std::string> meta;
  const nn::TensorMap tensors = nn::load_safetensors(path, &meta);
  for (const char* key : {"data.samples", "data.batch_size", "data.shuffle", "data.drop_last"})
    REQUIRE(meta.erase(key) == 1);
  nn::save_safetensors(tensors, boundary, meta);
  data::DataLoader other(small_dataset(), {.batch_size = 2, .shuffle = true, .seed = 3});
  a.ckpt(other).load(boundary);
  CHECK(other.state() == a.loader.state());
  std::filesystem::remove(boundary);
  std::filesystem::remove(path);
}

TEST_CASE("a checkpoint load that fails late leaves every object as it was") {
  const std::string path = temp_file("rollback.ckpt");
  Setup a;
  a.train_steps(2);
  a.ckpt().save(path, {.epoch = 0, .step = 2});
  // The same file with a data position past the end: it fails in the last part applied.
  std::map<std::string, std::string> meta;
  nn::TensorMap tensors = nn::load_safetensors(path, &meta);
  meta["data.next_batch"] = "99";
  nn::save_safetensors(tensors, path, meta);
  Setup b;
  b.train_steps(1);
  const Tensor weight = b.fc.weight.clone(),
               exp_avg = b.opt.state(b.fc.weight)->buffers.at("exp_avg").clone();
  const auto scaler_state = b.scaler.state_dict();
  const Generator::State gen_state = b.gen.state();
  const int64_t sched_epoch = b.sched.last_epoch();
  expect_error([&] { b.ckpt().load(path); },
               {"DataLoader.set_state: batch 99 is outside the pass of 5 batches"});
  CHECK(same_bits(b.fc.weight, weight));
  CHECK(same_bits(b.opt.state(b.fc.weight)->buffers.at("exp_avg"), exp_avg));
  CHECK(b.opt.state(b.fc.weight)->step == 1);
  CHECK(b.scaler.state_dict() == scaler_state);
  CHECK(b.gen.state() == gen_state);
  CHECK(b.sched.last_epoch() == sched_epoch);
  std::filesystem::remove(path);
}

TEST_CASE("Checkpoint rejects metadata that is not a valid number before changing anything") {
  const std::string path = temp_file("numbers.ckpt");
  Setup a;
  a.train_steps(1);
  a.ckpt().save(path);
  const std::vector<std::pair<std::string, std::vector<std::string>>> cases{
      {"scaler.scale", {"metadata \"scaler.scale\" = \"abc\" is not a number"}},
      {"optim.state.0.step", {"\"optim.state.0.step\" = 1e+300 is not a count"}},
      {"sched.last_epoch", {"\"sched.last_epoch\" = -1 is not a count"}},
      {"rng.offset", {"\"rng.offset\" = \"-5\" is not an unsigned 64-bit integer"}},
      {"step", {"\"step\" = \"1x\" is not a count"}},
      {"version", {"unsupported checkpoint version \"7\""}},
      {"contents", {"unknown part \"weights\""}}};
  const std::map<std::string, std::string> bad_value{{"scaler.scale", "abc"},
                                                     {"optim.state.0.step", "1e300"},
                                                     {"sched.last_epoch", "-1"},
                                                     {"rng.offset", "-5"},
                                                     {"step", "1x"},
                                                     {"version", "7"},
                                                     {"contents", "model,weights"}};
  for (const auto& entry : cases) {
    const std::string& key = entry.first;  // not a structured binding: clang 14 cannot capture one
    const std::vector<std::string>& message = entry.second;
    CAPTURE(key);
    std::map<std::string, std::string> meta;
    nn::TensorMap tensors = nn::load_safetensors(path, &meta);
    meta[key] = bad_value.at(key);
    const std::string broken = temp_file("broken.ckpt");
    nn::save_safetensors(tensors, broken, meta);
    Setup b;
    const Tensor weight = b.fc.weight.clone();
    expect_error([&] { b.ckpt().load(broken); }, message);
    CHECK(same_bits(b.fc.weight, weight));
    std::filesystem::remove(broken);
  }
  std::filesystem::remove(path);
}

TEST_CASE("Checkpoint loads version-1 files (model + optimizer, as the examples wrote them)") {
  const std::string path = temp_file("v1.ckpt");
  Setup a;
  a.train_steps(2);
  nn::TensorMap tensors;
  std::map<std::string, std::string> meta{
      {"format", "halfgrad-checkpoint"}, {"epoch", "4"}, {"train.pixel_mean", "0.5"}};
  for (const auto& [name, t] : a.fc.state_dict()) tensors["model." + name] = t;
  const optim::OptimizerStateDict opt_state = a.opt.state_dict();
  for (const auto& [key, t] : opt_state.tensors) tensors["optim." + key] = t;
  for (const auto& [key, v] : opt_state.scalars) meta["optim." + key] = std::to_string(v);
  nn::save_safetensors(tensors, path, meta);
  Setup b;
  train::Checkpoint ckpt;
  ckpt.model(b.fc).optimizer(b.opt);
  const train::TrainingProgress p = ckpt.load(path);
  CHECK(p.epoch == 4);
  CHECK(p.scalars.at("pixel_mean") == 0.5);
  CHECK(same_bits(a.fc.weight, b.fc.weight));
  CHECK(b.opt.state(b.fc.weight)->step == 2);
  std::filesystem::remove(path);
}

TEST_CASE("read_progress reads a checkpoint's progress without loading anything") {
  const std::string path = temp_file("progress.ckpt");
  Setup a;
  a.train_steps(1);
  a.ckpt().save(path, {.epoch = 3, .step = 7, .scalars = {{"best", 0.5}}});
  const train::TrainingProgress progress = train::read_progress(path);
  CHECK(progress.epoch == 3);
  CHECK(progress.step == 7);
  CHECK(progress.scalars.at("best") == 0.5);
  std::map<std::string, std::string> meta;
  nn::TensorMap tensors = nn::load_safetensors(path, &meta);
  meta["train.best"] = "abc";
  nn::save_safetensors(tensors, path, meta);
  expect_error([&] { (void)train::read_progress(path); },
               {"read_progress", path, "\"train.best\"", "not a number"});
  std::filesystem::remove(path);
}

TEST_CASE("Checkpoint saves ReduceLROnPlateau: before its first metric (best = inf) and after") {
  const std::string path = temp_file("plateau.ckpt");
  nn::Linear fc{3, 2};
  optim::SGD opt{fc.parameters(), optim::SGDOptions(0.1)};
  optim::ReduceLROnPlateau plateau(opt, optim::ReduceLROnPlateauOptions().patience(1));
  train::Checkpoint ckpt;
  ckpt.optimizer(opt).scheduler(plateau);
  ckpt.save(path);  // best is still +inf
  ckpt.load(path);
  CHECK(plateau.best() == std::numeric_limits<double>::infinity());
  for (const double metric : {1.0, 2.0, 3.0}) plateau.step(metric);  // reduces once
  CHECK(opt.param_groups()[0].lr() == doctest::Approx(0.01));
  ckpt.save(path);
  nn::Linear fc2{3, 2};
  optim::SGD opt2{fc2.parameters(), optim::SGDOptions(0.1)};
  optim::ReduceLROnPlateau resumed(opt2, optim::ReduceLROnPlateauOptions().patience(1));
  train::Checkpoint ckpt2;
  ckpt2.optimizer(opt2).scheduler(resumed);
  ckpt2.load(path);
  CHECK(resumed.best() == 1.0);
  CHECK(resumed.last_epoch() == 3);
  CHECK(resumed.num_bad_epochs() == 0);
  CHECK(opt2.param_groups()[0].lr() == opt.param_groups()[0].lr());  // the optimizer's part
  // an epoch schedule's file does not load into a plateau scheduler, and changes nothing
  optim::StepLR step_lr(opt, 2);
  train::Checkpoint epochs;
  epochs.optimizer(opt).scheduler(step_lr);
  epochs.save(path);
  expect_error([&] { ckpt2.load(path); }, {"ReduceLROnPlateau.load_state_dict", "\"best\""});
  CHECK(resumed.best() == 1.0);
  std::filesystem::remove(path);
}
