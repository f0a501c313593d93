// Forward and forward+backward time of the conv/pool layers of the BENCHMARKS.md "cnn" model at
// batch 128, fp32: conv1 (1->32, 3x3, pad 1, 28x28), maxpool 2, conv2 (32->64, 3x3, pad 1,
// 14x14), maxpool 2. Median of --repeat timed runs after --warmup runs, input batches rotated.
// bench/torch_conv_pool.py measures the same layers in PyTorch.
//
//   bench_conv_pool [--threads N (default 2)] [--batch B (128)] [--repeat R (30)]
//                   [--warmup W (10)] [--dtype float32|float16|bfloat16|float64]
//                   [--only NAME (layers whose name contains NAME, e.g. conv2)]
//                   [--clock wall|cpu (cpu: mean process CPU time summed over threads, for
//                    a loaded machine; with --threads 1 it is the op's own time)]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <functional>
#include <numeric>
#include <string>
#include <vector>

#include "halfgrad/halfgrad.h"
#include "halfgrad/kernels/cpu/blas.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  int threads = 2;
  int64_t batch = 128;
  int repeat = 30;
  int warmup = 10;
  hg::DType dtype = hg::kFloat32;
  std::string only;        // run only the layers whose name contains this
  bool cpu_clock = false;  // time by process CPU time (all threads) instead of wall time
};

hg::DType parse_dtype(const std::string& name) {
  if (name == "float16") return hg::kFloat16;
  if (name == "bfloat16") return hg::kBFloat16;
  if (name == "float64") return hg::kFloat64;
  return hg::kFloat32;
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string key = argv[i], value = argv[i + 1];
    if (key == "--threads") o.threads = std::atoi(value.c_str());
    if (key == "--batch") o.batch = std::atoll(value.c_str());
    if (key == "--repeat") o.repeat = std::max(1, std::atoi(value.c_str()));
    if (key == "--warmup") o.warmup = std::atoi(value.c_str());
    if (key == "--dtype") o.dtype = parse_dtype(value);
    if (key == "--only") o.only = value;
    if (key == "--clock") o.cpu_clock = value == "cpu";
  }
  return o;
}

double now_ms(bool cpu_clock) {
  if (cpu_clock) {
    timespec t{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return 1e3 * static_cast<double>(t.tv_sec) + 1e-6 * static_cast<double>(t.tv_nsec);
  }
  return std::chrono::duration<double, std::milli>(Clock::now().time_since_epoch()).count();
}

// Median milliseconds of fn(i) over `repeat` runs after `warmup` runs (i counts the calls).
double median_ms(const Options& o, const std::function<void(int)>& fn) {
  int call = 0;
  for (int i = 0; i < o.warmup; ++i) fn(call++);
  std::vector<double> ms;
  for (int i = 0; i < o.repeat; ++i) {
    const double start = now_ms(o.cpu_clock);
    fn(call++);
    ms.push_back(now_ms(o.cpu_clock) - start);
  }
  // The process CPU clock may tick in scheduler quanta (4 ms) once several threads run: its
  // mean over the runs is still exact to a quantum / repeat, its median is not.
  if (o.cpu_clock)
    return std::accumulate(ms.begin(), ms.end(), 0.0) / static_cast<double>(ms.size());
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

struct Layer {
  std::string name;
  hg::Shape input;
  std::function<hg::Tensor(const hg::Tensor&)> fn;
  std::vector<hg::Tensor> params;
  bool input_grad;  // whether the layer's input needs a gradient (not for the data batch)
};

struct Timing {
  double forward, step, engine_step;
};

// forward: the op alone (recording its node, as in training); step: forward + the op's backward
// node applied to a fixed output gradient; engine_step: forward + Tensor::backward, which also
// accumulates into the leaf input's .grad (the engine copies a leaf's first gradient).
Timing time_layer(const Options& o, const Layer& layer) {
  constexpr int kBatches = 3;
  std::vector<hg::Tensor> inputs;
  for (int i = 0; i < kBatches; ++i)
    inputs.push_back(hg::randn(layer.input, o.dtype).requires_grad_(layer.input_grad));
  const hg::Tensor probe = layer.fn(inputs[0]);
  const hg::Tensor seed = hg::randn(probe.sizes(), o.dtype);
  Timing t{};
  t.forward = median_ms(o, [&](int i) { layer.fn(inputs[i % kBatches]); });
  t.step = median_ms(o, [&](int i) {
    const hg::Tensor out = layer.fn(inputs[i % kBatches]);
    hg::NoGradGuard no_grad;
    out.grad_fn()->apply({seed});
  });
  t.engine_step = median_ms(o, [&](int i) {
    for (const auto& p : layer.params) p.set_grad(hg::Tensor());
    const hg::Tensor& x = inputs[i % kBatches];
    x.set_grad(hg::Tensor());
    layer.fn(x).backward(seed);
  });
  return t;
}

std::vector<Layer> cnn_layers(const Options& o) {
  const int64_t n = o.batch;
  auto param = [&](const hg::Shape& s) {
    return (hg::randn(s, o.dtype) * 0.1).detach().requires_grad_();
  };
  const hg::Tensor w1 = param({32, 1, 3, 3}), b1 = param({32});
  const hg::Tensor w2 = param({64, 32, 3, 3}), b2 = param({64});
  return {
      {"conv1 1->32 3x3 p1 28x28",
       {n, 1, 28, 28},
       [=](const hg::Tensor& x) {
         return hg::conv2d(x, w1, b1, {1, 1}, {1, 1});
       },
       {w1, b1},
       false},
      {"maxpool1 2x2 32x28x28",
       {n, 32, 28, 28},
       [](const hg::Tensor& x) {
         return hg::max_pool2d(x, {2, 2});
       },
       {},
       true},
      {"conv2 32->64 3x3 p1 14x14",
       {n, 32, 14, 14},
       [=](const hg::Tensor& x) {
         return hg::conv2d(x, w2, b2, {1, 1}, {1, 1});
       },
       {w2, b2},
       true},
      {"maxpool2 2x2 64x14x14",
       {n, 64, 14, 14},
       [](const hg::Tensor& x) {
         return hg::max_pool2d(x, {2, 2});
       },
       {},
       true},
  };
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  hg::kernels::cpu::set_num_threads(o.threads);
  hg::manual_seed(0);
  std::printf("# %s\n# batch %lld, %s, %d threads, median of %d runs after %d warm-up, %s\n",
              hg::kernels::cpu::blas_info().c_str(), static_cast<long long>(o.batch),
              std::string(hg::dtype_name(o.dtype)).c_str(), o.threads, o.repeat, o.warmup,
              o.cpu_clock ? "mean process CPU time (all threads)" : "wall time");
  std::printf("%-28s %11s %11s %13s\n", "layer", "forward ms", "fwd+bwd ms", "via engine ms");
  Timing total{};
  for (const Layer& layer : cnn_layers(o)) {
    if (layer.name.find(o.only) == std::string::npos) continue;
    const Timing t = time_layer(o, layer);
    total.forward += t.forward;
    total.step += t.step;
    total.engine_step += t.engine_step;
    std::printf("%-28s %11.3f %11.3f %13.3f\n", layer.name.c_str(), t.forward, t.step,
                t.engine_step);
    std::printf(
        "{\"bench\": \"conv_pool\", \"layer\": \"%s\", \"dtype\": \"%s\", "
        "\"batch\": %lld, \"threads\": %d, \"forward_ms\": %.4f, \"fwd_bwd_ms\": %.4f, "
        "\"fwd_bwd_engine_ms\": %.4f}\n",
        layer.name.c_str(), std::string(hg::dtype_name(o.dtype)).c_str(),
        static_cast<long long>(o.batch), o.threads, t.forward, t.step, t.engine_step);
  }
  std::printf("%-28s %11.3f %11.3f %13.3f\n", "total", total.forward, total.step,
              total.engine_step);
  return 0;
}
