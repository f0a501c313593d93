// The precision tour: each claim of the mixed-precision lecture, reproduced with halfgrad.
//
//   build/examples/precision_tour/hg_precision_tour                 # every chapter
//   build/examples/precision_tour/hg_precision_tour --chapter 4     # one chapter
//
// 1 fp16 anatomy, 2 the resolution table, 3 swamping and lost updates, 4 gradient underflow,
// 5 loss scaling, 6 accumulation precision, 7 accuracy tables, 8 attention's scores in 16 bits,
// 9 a recurrent weight's gradient summed over the time steps.
// Chapters 3, 4, 5 and 7 train the MNIST cnn (1 epoch on 20000 images by default); a run shared
// by several chapters trains once.
// Plots go to --out as PNG (gnuplot); tools/precision_lab.sh runs everything and writes
// docs/precision_lab.md.
#include <cstdio>
#include <filesystem>
#include <string>

#include <halfgrad/halfgrad.h>

#include "../common/args.h"
#include "chapters.h"

using namespace hg;

int main(int argc, char** argv) try {
  examples::Args args("hg_precision_tour",
                      "Every claim of the mixed-precision lecture, run and explained.");
  args.option("chapter", "0", "1..9, or 0 for all");
  args.option("out", "build/precision_tour_plots",
              "folder for the PNG plots (and their data and gnuplot scripts)");
  args.option("data", "datasets/mnist", "MNIST folder (tools/fetch_data.sh mnist)");
  args.option("model", "cnn", "mlp, cnn, transformer or lstm");
  args.option("epochs", "1", "epochs per training run");
  args.option("limit", "20000", "use only the first N training images (0: all 60000)");
  args.option("threads", "2", "CPU threads");
  args.option("small-lr", "0.0005", "chapters 3 and 7: the peak lr of the small-update runs");
  args.option("loss-shift", "-16", "chapter 7: log2 of the loss factor of the small-gradient runs");
  args.parse(argc, argv);
  set_num_threads(static_cast<int>(args.integer("threads")));
  const int64_t chapter = args.integer("chapter");
  HG_CHECK(chapter >= 0 && chapter <= 9, "hg_precision_tour: --chapter must be 0..9, got ",
           chapter);

  tour::TrainerOptions options;
  options.data = args.str("data");
  options.model = args.str("model");
  options.epochs = args.integer("epochs");
  options.limit = args.integer("limit");
  tour::Trainer trainer(options);
  tour::Context ctx{args.str("out"), &trainer, args.number("small-lr"),
                    static_cast<int>(args.integer("loss-shift"))};
  std::error_code made;
  std::filesystem::create_directories(ctx.out_dir, made);
  HG_CHECK(!made && std::filesystem::is_directory(ctx.out_dir), "hg_precision_tour: --out ",
           ctx.out_dir, ": cannot create this folder",
           made ? " (" + made.message() + ")" : std::string());
  // GradScaler says why it skips a step; the tour's tables count the skipped steps instead.
  set_warning_handler([](const std::string& message) {
    if (message.find("skipped the optimizer step") == std::string::npos) {
      std::printf("  warning: %s\n", message.c_str());
    }
  });
  std::printf("halfgrad precision tour (%s)\n", blas_info().c_str());

  const auto want = [&](int n) { return chapter == 0 || chapter == n; };
  if (want(1)) tour::chapter_anatomy(ctx);
  if (want(2)) tour::chapter_resolution(ctx);
  if (want(3)) tour::chapter_swamping(ctx);
  if (want(4)) tour::chapter_underflow(ctx);
  if (want(5)) tour::chapter_loss_scaling(ctx);
  if (want(6)) tour::chapter_accumulation(ctx);
  if (want(7)) tour::chapter_accuracy(ctx);
  if (want(8)) tour::chapter_attention(ctx);
  if (want(9)) tour::chapter_recurrent(ctx);
  return 0;
} catch (const hg::Error& e) {
  std::fprintf(stderr, "error: %s\n", e.what());
  return 1;
}
