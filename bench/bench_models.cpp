// Training-step benchmark of the BENCHMARKS.md models: one configuration per run (so the peak
// RSS is that configuration's), median step time and samples/s, one JSON line.
//
//   build/bench/bench_models --model cnn --batch 128 --precision fp16 --threads 2
//
// A step = zero_grad, forward (under autocast for fp16/bf16), cross-entropy, backward (scaled
// for fp16 by a dynamic GradScaler: unscale + inf check), SGD(lr 0.05, momentum 0.9, nesterov,
// weight decay 5e-4) step. Inputs rotate among 4 random batches.
//
// --opt-level O2 (or O3) for fp16/bf16: a 16-bit model with fp32 master weights in the optimizer
// (amp/initialize.h), so the forward casts no weights and the backward no gradients back; the
// default, O1, is the BENCHMARKS.md protocol (autocast over an fp32 model).
//
// --graph (CUDA): after the warm-up the step is captured once into a cuda::Graph and each timed
// step copies its batch into the captured input tensors and replays the graph (core/cuda_graph.h;
// the learning rate is constant here, so nothing host-side needs to advance).
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>

#include <halfgrad/halfgrad.h>

#include "args.h"
#include "models.h"

using namespace hg;

namespace {

examples::Args parse_args(int argc, char** argv) {
  examples::Args args("bench_models", "Median training-step time of mlp, cnn or resnet9.");
  args.option("model", "cnn",
              "mlp, cnn or resnet9 (or the MNIST sequence models transformer, lstm)");
  args.option("batch", "128", "batch size");
  args.option("precision", "fp32",
              "fp32, fp16 (autocast + dynamic loss scaling) or bf16 (autocast)");
  args.option("opt-level", "O1",
              "for fp16/bf16: O1 (autocast), O2 (16-bit model, fp32 masters) or O3");
  args.option("threads", "2", "CPU threads");
  args.option("device", "cpu", "cpu or cuda");
  args.option("warmup", "10", "untimed steps");
  args.option("steps", "30", "timed steps");
  args.flag("graph", "CUDA: capture the step in a CUDA graph after the warm-up and replay it");
  args.parse(argc, argv);
  return args;
}

std::shared_ptr<nn::Module> on_device(std::shared_ptr<nn::Module> model, Device device) {
  model->to(device);
  return model;
}

// One configuration: the model, its optimizer and scaler, and 4 input batches to rotate among.
struct Bench {
  std::shared_ptr<nn::Module> model;
  optim::SGD opt;
  amp::GradScaler scaler;
  amp::AmpConfig amp;
  std::vector<Tensor> xs, ys;

  Bench(const std::string& model_name, const std::string& precision, amp::OptLevel level,
        int64_t batch, Device device)
      : model(on_device(examples::make_model(model_name), device)),
        opt(model->parameters(),
            optim::SGDOptions(0.05).momentum(0.9).nesterov(true).weight_decay(5e-4)),
        scaler(amp::GradScalerOptions().enabled(precision == "fp16")),
        amp(amp::initialize(*model, opt, precision == "fp32" ? amp::OptLevel::O0 : level,
                            precision == "bf16" ? kBFloat16 : kFloat16)) {
    const Shape input = model_name == "resnet9" ? Shape{batch, 3, 32, 32} : Shape{batch, 1, 28, 28};
    for (int i = 0; i < 4; ++i) {
      xs.push_back(randn(input).to(device));
      ys.push_back(randint(0, 10, {batch}).to(device));
    }
  }

  Tensor step(const Tensor& x, const Tensor& y) {
    opt.zero_grad();
    Tensor loss;
    {
      const auto region = amp.autocast();
      if (amp.level == amp::OptLevel::O1)  // the weights' casts in one launch
        amp::cache_weight_casts(model->parameters());
      loss = cross_entropy((*model)(x), y);
    }
    scaler.scale(loss).backward();
    scaler.step(opt);
    scaler.update();
    return loss;
  }
};

// The timed steps' wall times in ms: `total` until the loss can be read, `issued` until the
// host has issued the step's work (on CUDA the device may still run it; issued close to total
// means the host is the bottleneck). With `graphed`, the step is captured after the warm-up and
// each timed step copies its batch into the captured inputs and replays the graph.
struct StepTimes {
  std::vector<double> total, issued;
  int64_t graph_kernels = 0;  // kernels one replay launches (graphed runs)
  int64_t graph_nodes = 0;    // its kernels, copies and memsets
};
StepTimes time_steps(Bench& bench, int64_t warmup, int64_t steps, bool graphed) {
  Tensor x_static = bench.xs[0].clone(), y_static = bench.ys[0].clone();  // what a graph reads
  cuda::Graph graph;
  Tensor graph_loss;
  StepTimes times;
  for (int64_t i = 0; i < warmup + steps; ++i) {
    if (graphed && i == warmup) {
      graph.capture([&] { graph_loss = bench.step(x_static, y_static); });
      times.graph_kernels = graph.kernel_launches();
      times.graph_nodes = graph.nodes();
    }
    const auto start = std::chrono::steady_clock::now();
    Tensor loss;
    if (graphed && i >= warmup) {
      x_static.copy_(bench.xs[i % 4]);
      y_static.copy_(bench.ys[i % 4]);
      graph.replay();
      loss = graph_loss;
    } else {
      loss = bench.step(bench.xs[i % 4], bench.ys[i % 4]);
    }
    const auto issued = std::chrono::steady_clock::now();
    (void)loss.item<float>();
    const auto ms_since = [&](auto t) {
      return std::chrono::duration<double, std::milli>(t - start).count();
    };
    if (i >= warmup) {
      times.total.push_back(ms_since(std::chrono::steady_clock::now()));
      times.issued.push_back(ms_since(issued));
    }
  }
  return times;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) try {
  const examples::Args args = parse_args(argc, argv);
  set_num_threads(static_cast<int>(args.integer("threads")));
  manual_seed(0);
  const std::string model_name = args.str("model"), precision = args.str("precision");
  const int64_t batch = args.integer("batch");
  HG_CHECK(args.str("device") == "cpu" || args.str("device") == "cuda",
           "bench_models: --device must be cpu or cuda, got ", args.str("device"));
  const Device device = args.str("device") == "cuda" ? kCUDA : kCPU;
  const bool graphed = args.on("graph");
  HG_CHECK(!graphed || device.is_cuda(), "bench_models: --graph needs --device cuda");
  const amp::OptLevel level = amp::parse_opt_level(args.str("opt-level"));
  HG_CHECK(precision != "fp32" || level == amp::OptLevel::O1 || level == amp::OptLevel::O0,
           "bench_models: --opt-level ", args.str("opt-level"), " needs --precision fp16 or bf16");
  Bench bench(model_name, precision, level, batch, device);
  const std::string level_name(precision == "fp32" ? "O0" : amp::opt_level_name(level));
  const StepTimes times = time_steps(bench, args.integer("warmup"), args.integer("steps"), graphed);
  const double median_ms = median(times.total), issued_ms = median(times.issued);
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  // on CUDA: peak device memory, how many GEMMs took cuBLASLt's bias epilogue over the whole
  // run (graph replays call no host code, so a graphed run counts its eager steps), and for a
  // graphed run the kernels one step launches and all the work it runs (copies included)
  std::string device_memory;
  if (device.is_cuda()) {
    device_memory = ",\"peak_device_mb\":" +
                    std::to_string(cuda::memory_stats().peak_allocated / (1024 * 1024)) +
                    ",\"lt_epilogue_calls\":" + std::to_string(cuda::cublaslt_epilogue_calls());
    if (graphed)
      device_memory += ",\"graph_kernels\":" + std::to_string(times.graph_kernels) +
                       ",\"graph_nodes\":" + std::to_string(times.graph_nodes);
  }
  const std::string blas = blas_info();  // ends with a note when bf16 runs on AVX-512 BF16
  std::printf(
      "{\"framework\":\"halfgrad\",\"model\":\"%s\",\"batch\":%lld,\"precision\":\"%s\","
      "\"opt_level\":\"%s\","
      "\"device\":\"%s\",\"graph\":%s,\"threads\":%lld,\"median_ms\":%.3f,\"issued_ms\":%.3f,"
      "\"samples_per_s\":%.1f,\"peak_rss_mb\":%.1f%s,\"cpu_bf16_dot\":%s,\"blas\":\"%s\"}\n",
      model_name.c_str(), static_cast<long long>(batch), precision.c_str(), level_name.c_str(),
      device.str().c_str(), graphed ? "true" : "false",
      static_cast<long long>(args.integer("threads")), median_ms, issued_ms,
      1000.0 * batch / median_ms, usage.ru_maxrss / 1024.0, device_memory.c_str(),
      blas.find("AVX-512 BF16") != std::string::npos ? "true" : "false",
      blas.substr(0, 60).c_str());
  return 0;
} catch (const hg::Error& e) {
  std::fprintf(stderr, "error: %s\n", e.what());
  return 1;
}
