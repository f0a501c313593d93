#include "amp_flags.h"

#include "core/error.h"

namespace hg::examples {

void declare_amp_options(Args& args) {
  args.option("precision", "fp32", "fp32, fp16 or bf16");
  args.option("opt-level", "", "O0..O3 (default: O0 for fp32, O1 for fp16/bf16)");
  args.option("loss-scale", "", "dynamic, a number (static), or none (default: dynamic for fp16)");
}

amp::AmpConfig setup_amp(const Args& args, nn::Module& model, optim::Optimizer& opt,
                         const std::string& program) {
  const std::string precision = args.str("precision");
  HG_CHECK(precision == "fp32" || precision == "fp16" || precision == "bf16", program,
           ": --precision must be fp32, fp16 or bf16, got ", precision);
  const DType dtype = precision == "bf16" ? kBFloat16 : kFloat16;
  std::string level = args.str("opt-level");
  if (level.empty()) level = precision == "fp32" ? "O0" : "O1";
  HG_CHECK(precision != "fp32" || level == "O0", program, ": --opt-level ", level,
           " needs --precision fp16 or bf16");
  return amp::initialize(model, opt, amp::parse_opt_level(level), dtype);
}

amp::GradScalerOptions scaler_options(const Args& args, const amp::AmpConfig& amp) {
  std::string mode = args.str("loss-scale");
  if (mode.empty()) mode = amp.needs_loss_scaling ? "dynamic" : "none";
  if (mode == "none") return amp::GradScalerOptions().enabled(false);
  if (mode == "dynamic") return amp::GradScalerOptions();
  return amp::GradScalerOptions().init_scale(args.number("loss-scale")).dynamic(false);
}

}  // namespace hg::examples
