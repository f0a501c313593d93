#include "halfgrad/amp/initialize.h"

#include <sstream>

#include "halfgrad/core/error.h"

namespace hg::amp {

OptLevel parse_opt_level(const std::string& text) {
  if (text == "O0") return OptLevel::O0;
  if (text == "O1") return OptLevel::O1;
  if (text == "O2") return OptLevel::O2;
  if (text == "O3") return OptLevel::O3;
  HG_FAIL("amp: unknown opt level \"", text, "\" (expected O0, O1, O2 or O3)");
}

std::string_view opt_level_name(OptLevel level) {
  static constexpr std::string_view names[] = {"O0", "O1", "O2", "O3"};
  return names[static_cast<int>(level)];
}

std::unique_ptr<AutocastGuard> AmpConfig::autocast() const {
  return std::make_unique<AutocastGuard>(use_autocast ? dtype : kFloat16, use_autocast);
}

std::string AmpConfig::describe() const {
  std::ostringstream out;
  out << opt_level_name(level) << ": ";
  switch (level) {
    case OptLevel::O0:
      out << "float32 weights and math";
      break;
    case OptLevel::O1:
      out << "float32 weights, autocast to " << dtype_name(dtype);
      break;
    case OptLevel::O2:
      out << dtype_name(dtype) << " model (BatchNorm float32), float32 master weights, autocast";
      break;
    case OptLevel::O3:
      out << dtype_name(dtype) << " model (BatchNorm float32), no master weights";
      break;
  }
  out << (needs_loss_scaling ? ", needs loss scaling" : ", no loss scaling needed");
  return out.str();
}

AmpConfig initialize(nn::Module& model, optim::Optimizer& optimizer, OptLevel level, DType dtype) {
  HG_CHECK(level == OptLevel::O0 || dtype == kFloat16 || dtype == kBFloat16,
           "amp::initialize: ", opt_level_name(level), " needs float16 or bfloat16, got ",
           dtype_name(dtype));
  AmpConfig config;
  config.level = level;
  if (level == OptLevel::O0) return config;
  // as apex: once, on an fp32 model (a second call would reseed the masters from rounded
  // weights, or leave a 16-bit model described as fp32)
  for (const auto& [name, p] : model.named_parameters())
    HG_CHECK(p.dtype() == kFloat32, "amp::initialize: parameter ", name, " is ", describe(p), "; ",
             opt_level_name(level),
             " starts from a float32 model (call initialize once, before any conversion)");
  config.dtype = dtype;
  config.use_autocast = true;  // O2/O3 too: it casts inputs and keeps softmax/losses in fp32
  config.needs_loss_scaling = dtype == kFloat16;
  if (level == OptLevel::O2 || level == OptLevel::O3) {
    model.to(dtype);  // in place: the optimizer's handles now see 16-bit tensors
    config.master_weights = level == OptLevel::O2;
    optimizer.set_master_weights(config.master_weights);
  }
  return config;
}

}  // namespace hg::amp
