#include "halfgrad/core/factories.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <utility>

#include "halfgrad/core/error.h"
#include "halfgrad/core/random.h"
#include "halfgrad/kernels/kernels.h"
#include "halfgrad/kernels/random_kernels.h"
#include "halfgrad/kernels/tensor_bridge.h"

namespace hg {

namespace {

Tensor finish(Tensor t, const TensorOptions& options) {
  if (options.requires_grad()) t.requires_grad_(true);
  return t;
}

Tensor make_on_cpu_then_move(const Shape& shape, DType dtype, const TensorOptions& options,
                             const std::function<void(Tensor&)>& fill_host) {
  Tensor host = make_tensor(shape, dtype, kCPU);
  fill_host(host);
  return finish(host.to(options.dtype()).to(options.device()), options);
}

}  // namespace

namespace {
// Each factory names itself when a size is negative (make_tensor would say "empty").
void check_sizes(const Shape& shape, const char* op) {
  for (int64_t s : shape) HG_CHECK(s >= 0, op, ": negative size in shape ", shape_str(shape));
}
}  // namespace

Tensor empty(const Shape& shape, TensorOptions options) {
  check_sizes(shape, "empty");
  return finish(make_tensor(shape, options.dtype(), options.device()), options);
}

namespace {
// full, zeros and ones: the shape checked once, under the caller's name
Tensor filled(const Shape& shape, double value, TensorOptions options, const char* op) {
  check_sizes(shape, op);
  check_fill_value(value, options.dtype(), op);
  Tensor t = make_tensor(shape, options.dtype(), options.device());
  kernels::fill(t.device())(kernels::view_of(t), value);
  return finish(t, options);
}
}  // namespace

Tensor full(const Shape& shape, double value, TensorOptions options) {
  return filled(shape, value, options, "full");
}
Tensor zeros(const Shape& shape, TensorOptions options) {
  return filled(shape, 0.0, options, "zeros");
}
Tensor ones(const Shape& shape, TensorOptions options) {
  return filled(shape, 1.0, options, "ones");
}
Tensor scalar_tensor(double value, TensorOptions options) { return full({}, value, options); }

Tensor arange(int64_t end, TensorOptions options) {
  if (!options.has_dtype()) options = options.dtype(kInt64);  // as torch.arange(10)
  return arange(0.0, static_cast<double>(end), 1.0, options);
}

Tensor arange(double start, double end, double step, TensorOptions options) {
  HG_CHECK(std::isfinite(start) && std::isfinite(end) && std::isfinite(step),
           "arange: unsupported range ", start, " -> ", end, " with step ", step);
  if (!is_floating(options.dtype())) {  // as torch: an integer arange truncates all three first
    start = std::trunc(start);
    end = std::trunc(end);
    step = std::trunc(step);
  }
  HG_CHECK(step != 0.0, "arange: step must be nonzero (after truncation to ",
           dtype_name(options.dtype()), ")");
  const double count = std::ceil((end - start) / step);
  HG_CHECK(count >= 0, "arange: the range [", start, ", ", end, ") cannot be walked with step ",
           step);
  HG_CHECK(count < 9007199254740992.0, "arange: the range [", start, ", ", end, ") with step ",
           step, " has ", count, " elements, too many");
  const auto n = static_cast<int64_t>(count);
  return make_on_cpu_then_move({n}, kFloat64, options, [&](Tensor& t) {
    double* p = t.data<double>();
    for (int64_t i = 0; i < n; ++i) p[i] = start + static_cast<double>(i) * step;
  });
}

namespace detail {
Tensor arange_integers(bool fit_int64, int64_t start, int64_t end, int64_t step,
                       TensorOptions options) {
  constexpr int64_t kExact = int64_t{1} << 53;
  const auto exact = [&](int64_t v) { return v >= -kExact && v <= kExact; };
  HG_CHECK(fit_int64 && exact(start) && exact(end) && exact(step), "arange: integer range ", start,
           " -> ", end, " with step ", step, " is beyond +-2^53 (not exact in its fill)");
  if (!options.has_dtype()) options = options.dtype(kInt64);
  return arange(static_cast<double>(start), static_cast<double>(end), static_cast<double>(step),
                options);
}
}  // namespace detail

Tensor linspace(double start, double end, int64_t steps, TensorOptions options) {
  HG_CHECK(std::isfinite(start) && std::isfinite(end), "linspace: unsupported range ", start,
           " -> ", end);
  HG_CHECK(steps >= 0, "linspace: steps must be non-negative, got ", steps);
  const double step = steps > 1 ? (end - start) / static_cast<double>(steps - 1) : 0.0;
  return make_on_cpu_then_move({steps}, kFloat64, options, [&](Tensor& t) {
    double* p = t.data<double>();
    const int64_t half = steps == 1 ? 1 : steps / 2;  // one step: just start, as torch
    for (int64_t i = 0; i < steps; ++i)
      p[i] = i < half ? start + step * static_cast<double>(i)
                      : end - step * static_cast<double>(steps - 1 - i);
  });
}

Tensor eye(int64_t n, TensorOptions options) { return eye(n, n, options); }
Tensor eye(int64_t n, int64_t m, TensorOptions options) {
  check_sizes({n, m}, "eye");
  return make_on_cpu_then_move({n, m}, kFloat64, options, [&](Tensor& t) {
    double* p = t.data<double>();
    std::fill(p, p + n * m, 0.0);
    for (int64_t i = 0; i < std::min(n, m); ++i) p[i * m + i] = 1.0;
  });
}

Tensor empty_like(const Tensor& t) { return empty(t.sizes(), t.options()); }
Tensor zeros_like(const Tensor& t) { return zeros(t.sizes(), t.options()); }
Tensor ones_like(const Tensor& t) { return ones(t.sizes(), t.options()); }
Tensor full_like(const Tensor& t, double value) { return full(t.sizes(), value, t.options()); }

namespace {

// The whole numbers a dtype holds, each exactly: floats up to 2^mantissa bits.
std::pair<double, double> exact_range(DType dtype) {
  switch (dtype) {
    case kBool:
      return {0, 1};
    case kUInt8:
      return {0, 255};
    case kFloat16:
      return {-2048, 2048};
    case kBFloat16:
      return {-256, 256};
    case kFloat32:
      return {-16777216.0, 16777216.0};
    case kFloat64:
      return {-9007199254740992.0, 9007199254740992.0};
    default:  // int64
      return {-9223372036854775808.0, 9223372036854775807.0};
  }
}

}  // namespace

// Random draws are made in fp32 (or fp64 for fp64 tensors) on the tensor's device from the
// default generator, then converted: a 16-bit tensor holds the rounded fp32 stream. The CPU and
// CUDA fills give the same bits for the same generator state (kernels/random_kernels.h).
namespace {

Tensor draw(kernels::RandomKind kind, const Shape& shape, DType draw_dtype, uint64_t blocks,
            const kernels::RandomParams& params, const TensorOptions& options) {
  Tensor t = make_tensor(shape, draw_dtype, options.device());
  const auto s = default_generator().reserve_state(blocks);
  kernels::random_fill(t.device())(kind, kernels::view_of(t), params, s.seed, s.offset);
  const DType dtype = options.dtype();
  if (kind == kernels::RandomKind::Uniform && (dtype == kFloat16 || dtype == kBFloat16)) {
    // [0, 1) in 16 bits too: fp32 draws from the midpoint below 1 up would round to 1, so they
    // are held just below it and round to the largest 16-bit value below 1
    const float midpoint = dtype == kFloat16 ? 1.0f - 0x1p-12f : 1.0f - 0x1p-9f;
    const kernels::UnaryParams below{0.0, std::nextafter(midpoint, 0.0f)};
    kernels::unary(t.device())(kernels::UnaryOp::Clamp, kernels::view_of(t), kernels::view_of(t),
                               below);
  }
  return finish(t.to(dtype), options);
}

}  // namespace

Tensor rand(const Shape& shape, TensorOptions options) {
  check_sizes(shape, "rand");
  HG_CHECK(is_floating(options.dtype()), "rand: expected a floating dtype, got ",
           dtype_name(options.dtype()));
  const bool f64 = options.dtype() == kFloat64;
  const int64_t n = shape_numel(shape);
  return draw(kernels::RandomKind::Uniform, shape, f64 ? kFloat64 : kFloat32,
              f64 ? random::blocks_uniform_f64(n) : random::blocks_uniform_f32(n), {0.0, 1.0},
              options);
}

Tensor randn(const Shape& shape, TensorOptions options) {
  check_sizes(shape, "randn");
  HG_CHECK(is_floating(options.dtype()), "randn: expected a floating dtype, got ",
           dtype_name(options.dtype()));
  const bool f64 = options.dtype() == kFloat64;
  const int64_t n = shape_numel(shape);
  return draw(kernels::RandomKind::Normal, shape, f64 ? kFloat64 : kFloat32,
              f64 ? random::blocks_normal_f64(n) : random::blocks_normal_f32(n), {0.0, 1.0},
              options);
}

Tensor randint(int64_t low, int64_t high, const Shape& shape, TensorOptions options) {
  check_sizes(shape, "randint");
  HG_CHECK(low < high, "randint: expected low < high, got [", low, ", ", high, ")");
  if (!options.has_dtype()) options = options.dtype(kInt64);  // as torch.randint
  const DType dtype = options.dtype();
  const auto [lowest, highest] = exact_range(dtype);  // every value must be held exactly
  HG_CHECK(static_cast<double>(low) >= lowest && static_cast<double>(high - 1) <= highest,
           "randint: [", low, ", ", high, ") is out of bounds for ", dtype_name(dtype),
           " (which holds whole numbers in [", lowest, ", ", highest, "])");
  kernels::RandomParams params;
  params.low = low;
  params.high = high;
  return draw(kernels::RandomKind::RandInt, shape, kInt64,
              random::blocks_randint(shape_numel(shape)), params, options);
}

Tensor randperm(int64_t n, TensorOptions options) {
  HG_CHECK(n >= 0, "randperm: expected n >= 0, got ", n);
  if (!options.has_dtype()) options = options.dtype(kInt64);  // as torch.randperm
  const double highest = exact_range(options.dtype()).second;
  HG_CHECK(static_cast<double>(n - 1) <= highest, "randperm: n = ", n, " is out of bounds for ",
           dtype_name(options.dtype()), " (which holds whole numbers up to ", highest, ")");
  try {
    return make_on_cpu_then_move({n}, kInt64, options, [&](Tensor& t) {
      // the generator advances once the memory is there: a refused n leaves it as it was
      const auto state = default_generator().reserve_state(random::blocks_randint(n));
      random::fill_permutation(t.data<int64_t>(), n, state.seed, state.offset);
    });
  } catch (const Error& e) {
    HG_FAIL("randperm(", n, "): ", e.what());
  }
}

Tensor rand_like(const Tensor& t) { return rand(t.sizes(), t.options()); }
Tensor randn_like(const Tensor& t) { return randn(t.sizes(), t.options()); }

template <typename T>
Tensor from_vector(const std::vector<T>& values, const Shape& shape, TensorOptions options) {
  HG_CHECK(shape_numel(shape) == static_cast<int64_t>(values.size()),
           "from_vector: ", values.size(), " values do not fill shape ", shape_str(shape));
  DType stored = kFloat64;
  if constexpr (std::is_same_v<T, Half>)
    stored = kFloat16;
  else if constexpr (std::is_same_v<T, BFloat16>)
    stored = kBFloat16;
  else if constexpr (std::is_same_v<T, float>)
    stored = kFloat32;
  else if constexpr (std::is_same_v<T, bool>)
    stored = kBool;
  else if constexpr (std::is_same_v<T, uint8_t>)
    stored = kUInt8;
  else if constexpr (std::is_integral_v<T>)
    stored = kInt64;
  if (!options.has_dtype()) options = options.dtype(stored == kFloat64 ? kFloat32 : stored);
  return make_on_cpu_then_move(shape, stored, options, [&](Tensor& t) {
    for (size_t i = 0; i < values.size(); ++i) {
      if constexpr (std::is_same_v<T, bool>)
        t.data<bool>()[i] = values[i];
      else if constexpr (std::is_same_v<T, uint8_t>)
        t.data<uint8_t>()[i] = values[i];
      else if constexpr (std::is_same_v<T, Half> || std::is_same_v<T, BFloat16> ||
                         std::is_same_v<T, float>)
        static_cast<T*>(t.data_ptr())[i] = values[i];
      else if constexpr (std::is_integral_v<T>)
        t.data<int64_t>()[i] = static_cast<int64_t>(values[i]);
      else
        t.data<double>()[i] = static_cast<double>(values[i]);
    }
  });
}

template Tensor from_vector(const std::vector<float>&, const Shape&, TensorOptions);
template Tensor from_vector(const std::vector<double>&, const Shape&, TensorOptions);
template Tensor from_vector(const std::vector<Half>&, const Shape&, TensorOptions);
template Tensor from_vector(const std::vector<BFloat16>&, const Shape&, TensorOptions);
template Tensor from_vector(const std::vector<int64_t>&, const Shape&, TensorOptions);
template Tensor from_vector(const std::vector<int>&, const Shape&, TensorOptions);
template Tensor from_vector(const std::vector<long long>&, const Shape&, TensorOptions);
template Tensor from_vector(const std::vector<int8_t>&, const Shape&, TensorOptions);
template Tensor from_vector(const std::vector<int16_t>&, const Shape&, TensorOptions);
template Tensor from_vector(const std::vector<uint16_t>&, const Shape&, TensorOptions);
template Tensor from_vector(const std::vector<uint32_t>&, const Shape&, TensorOptions);
template Tensor from_vector(const std::vector<uint64_t>&, const Shape&, TensorOptions);
template Tensor from_vector(const std::vector<uint8_t>&, const Shape&, TensorOptions);
template Tensor from_vector(const std::vector<bool>&, const Shape&, TensorOptions);

}  // namespace hg
