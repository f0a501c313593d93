// The examples' resume checks (examples/common/checkpoint.h, amp_flags.h): what a checkpoint
// holds is read before anything loads, a run with other precision options is refused naming
// the matching ones, --epochs below the checkpoint's is an error, and output paths are checked
// before training.
#include <unistd.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "common/amp_flags.h"
#include "common/checkpoint.h"
#include "examples/parse_words.h"
#include "test_util.h"

using namespace hg;
using hg::test::expect_error;

namespace {
amp::AmpConfig config(amp::OptLevel level, DType dtype) {
  amp::AmpConfig amp;
  amp.level = level;
  amp.dtype = dtype;
  return amp;
}
}  // namespace

TEST_CASE("peek_checkpoint reads the epochs and scalars a run saved, without a model") {
  const std::string path =
      (std::filesystem::temp_directory_path() / ("hg_peek_" + std::to_string(::getpid()) + ".ckpt"))
          .string();
  nn::Linear fc(3, 2);
  optim::SGD opt(fc.parameters(), optim::SGDOptions(0.1));
  examples::TrainingState state{4, {{"pixel_mean", 0.125}}};
  examples::record_amp_options(config(amp::OptLevel::O2, kBFloat16), state.scalars);
  examples::save_checkpoint(path, fc, opt, state);
  const examples::TrainingState peeked = examples::peek_checkpoint(path);
  CHECK(peeked.epoch == 4);
  CHECK(peeked.scalars.at("pixel_mean") == 0.125);
  CHECK(peeked.scalars.at("run.precision") == 2.0);  // bf16
  CHECK(peeked.scalars.at("run.opt_level") == 2.0);
  std::filesystem::remove(path);
}

TEST_CASE("check_amp_options refuses other precision options, naming the matching ones") {
  std::map<std::string, double> saved;
  examples::record_amp_options(config(amp::OptLevel::O2, kFloat16), saved);
  examples::check_amp_options(saved, config(amp::OptLevel::O2, kFloat16), "prog");  // the same
  expect_error(
      [&] { examples::check_amp_options(saved, config(amp::OptLevel::O0, kFloat16), "prog"); },
      {"prog", "saved by a run with --precision fp16 --opt-level O2",
       "this run has --precision fp32 --opt-level O0"});
  expect_error(
      [&] { examples::check_amp_options(saved, config(amp::OptLevel::O2, kBFloat16), "prog"); },
      {"--precision fp16 --opt-level O2", "--precision bf16 --opt-level O2"});
  examples::check_amp_options({}, config(amp::OptLevel::O1, kFloat16), "prog");  // older files
}

TEST_CASE("check_program refuses another example's checkpoint, naming the program to use") {
  examples::TrainingState saved{2, {}};
  examples::check_program(saved, "hg_mnist");  // an older file: no program recorded
  examples::record_program(saved.scalars, "hg_cifar10");
  examples::check_program(saved, "hg_cifar10");
  expect_error([&] { examples::check_program(saved, "hg_mnist"); },
               {"hg_mnist: the checkpoint was written by hg_cifar10; resume it with that program"});
  saved.scalars["run.program"] = 7;
  expect_error([&] { examples::check_program(saved, "hg_mnist"); },
               {"hg_mnist: the checkpoint was written by another program (run.program 7)"});
}

TEST_CASE("epochs_left: more epochs to train, none, or --epochs below the checkpoint's") {
  const examples::TrainingState saved{3, {}};
  CHECK(examples::epochs_left(saved, 5, "prog"));
  CHECK_FALSE(examples::epochs_left(saved, 3, "prog"));
  expect_error([&] { (void)examples::epochs_left(saved, 2, "prog"); },
               {"prog", "done 3 epochs", "more than --epochs 2"});
}

TEST_CASE("describe_scaling says what loss scaling runs") {
  CHECK(examples::describe_scaling(amp::GradScalerOptions().enabled(false)) == "no loss scaling");
  CHECK(examples::describe_scaling(amp::GradScalerOptions()) == "dynamic loss scaling from 65536");
  CHECK(examples::describe_scaling(amp::GradScalerOptions().init_scale(8).dynamic(false)) ==
        "static loss scale 8");
}

TEST_CASE("describe_precision states the scaling once: the need, then what runs") {
  amp::AmpConfig fp32;  // O0
  CHECK(examples::describe_precision(fp32, amp::GradScalerOptions().enabled(false)) ==
        "O0: float32 weights and math, no loss scaling needed");
  amp::AmpConfig fp16;
  fp16.level = amp::OptLevel::O1;
  fp16.dtype = kFloat16;
  fp16.needs_loss_scaling = true;
  CHECK(examples::describe_precision(fp16, amp::GradScalerOptions()) ==
        "O1: float32 weights, autocast to float16, needs loss scaling; dynamic loss scaling from "
        "65536");
  CHECK(examples::describe_precision(fp16, amp::GradScalerOptions().enabled(false)) ==
        "O1: float32 weights, autocast to float16, needs loss scaling; but no loss scaling "
        "(--loss-scale)");
  amp::AmpConfig bf16 = fp16;
  bf16.dtype = kBFloat16;
  bf16.needs_loss_scaling = false;
  CHECK(examples::describe_precision(bf16, amp::GradScalerOptions()) ==
        "O1: float32 weights, autocast to bfloat16, no loss scaling needed; dynamic loss scaling "
        "from 65536 all the same (--loss-scale)");
}

TEST_CASE("check_output_path: a missing folder or a folder as the file is an error") {
  examples::check_output_path("", "save", "prog");  // not given
  examples::check_output_path("plain_name.ckpt", "save", "prog");
  expect_error([] { examples::check_output_path("/nonexistent/x.ckpt", "save", "prog"); },
               {"prog", "--save /nonexistent/x.ckpt", "does not exist"});
  const std::string dir = std::filesystem::temp_directory_path().string();
  expect_error([&] { examples::check_output_path(dir, "metrics", "prog"); },
               {"--metrics", "is a folder"});
}

namespace {
examples::Args amp_args(std::vector<std::string> words) {
  examples::Args args("prog", "test");
  examples::declare_amp_options(args);
  args.option("epochs", "3", "epochs");
  hg::test::parse_words(args, std::move(words));
  return args;
}
}  // namespace

TEST_CASE(
    "amp options: O0 with 16 bits and a loss scale with fp32 are errors, --epochs is "
    "range-checked") {
  nn::Linear fc(3, 2);
  optim::SGD opt(fc.parameters(), optim::SGDOptions(0.1));
  expect_error(
      [&] {
        (void)examples::setup_amp(amp_args({"--precision", "fp16", "--opt-level", "O0"}), fc, opt,
                                  "prog");
      },
      {"prog", "--opt-level O0 runs in fp32"});
  const examples::Args fp32 = amp_args({"--loss-scale", "dynamic"});
  const amp::AmpConfig o0 = examples::setup_amp(fp32, fc, opt, "prog");
  expect_error([&] { (void)examples::scaler_options(fp32, o0, "prog"); },
               {"prog: --loss-scale dynamic", "fp32 runs unscaled"});
  CHECK_FALSE(examples::scaler_options(amp_args({"--loss-scale", "none"}), o0, "prog").enabled_);
  // a word that is no mode is named as such before any check of the precision
  expect_error(
      [&] {
        (void)examples::scaler_options(amp_args({"--loss-scale", "foo"}), o0, "p");
      },
      {"p: --loss-scale must be dynamic, none or a number, got foo"});
  expect_error(
      [&] {
        (void)examples::setup_amp(amp_args({"--opt-level", "O4"}), fc, opt, "prog");
      },
      {"prog: --opt-level must be O0, O1, O2 or O3, got O4"});
  expect_error(
      [] {
        amp_args({"--epochs", "0"}).require_at_least({{"epochs", 1}});
      },
      {"prog", "--epochs must be >= 1, got 0"});
}
