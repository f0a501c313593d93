#include "amp_flags.h"

#include <cstdio>
#include <sstream>

#include "halfgrad/core/error.h"

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
  HG_CHECK(level == "O0" || level == "O1" || level == "O2" || level == "O3", program,
           ": --opt-level must be O0, O1, O2 or O3, got ", level);
  HG_CHECK(precision != "fp32" || level == "O0", program, ": --opt-level ", level,
           " needs --precision fp16 or bf16");
  HG_CHECK(precision == "fp32" || level != "O0", program, ": --opt-level O0 runs in fp32; give ",
           "--precision fp32, or O1..O3 for ", precision);
  return amp::initialize(model, opt, amp::parse_opt_level(level), dtype);
}

amp::GradScalerOptions scaler_options(const Args& args, const amp::AmpConfig& amp,
                                      const std::string& program) {
  std::string mode = args.str("loss-scale");
  if (mode.empty()) mode = amp.needs_loss_scaling ? "dynamic" : "none";
  if (mode == "none") return amp::GradScalerOptions().enabled(false);
  double value = 0.0;
  if (mode != "dynamic") {
    std::istringstream in(mode);
    in >> value;
    HG_CHECK(in && in.eof(), program, ": --loss-scale must be dynamic, none or a number, got ",
             mode);
  }
  HG_CHECK(amp.level != amp::OptLevel::O0, program, ": --loss-scale ", mode,
           " needs 16-bit gradients (--precision fp16 or bf16); fp32 runs unscaled");
  if (!amp.needs_loss_scaling)
    std::printf(
        "note: %s needs no loss scaling (its exponent range is fp32's); scaling anyway, "
        "as --loss-scale %s asks\n",
        std::string(dtype_name(amp.dtype)).c_str(), mode.c_str());
  if (mode == "dynamic") return amp::GradScalerOptions();
  return amp::GradScalerOptions().init_scale(value).dynamic(false);
}

std::string describe_scaling(const amp::GradScalerOptions& options) {
  std::ostringstream out;
  if (!options.enabled_)
    out << "no loss scaling";
  else if (options.dynamic_)
    out << "dynamic loss scaling from " << options.init_scale_;
  else
    out << "static loss scale " << options.init_scale_;
  return out.str();
}

std::string describe_precision(const amp::AmpConfig& amp, const amp::GradScalerOptions& scaling) {
  if (amp.needs_loss_scaling == scaling.enabled_)
    return amp.needs_loss_scaling ? amp.describe() + "; " + describe_scaling(scaling)
                                  : amp.describe();
  return amp.describe() +
         (scaling.enabled_ ? "; " + describe_scaling(scaling) + " all the same"
                           : std::string("; but no loss scaling")) +
         " (--loss-scale)";
}

namespace {
constexpr const char* kPrecisions[] = {"fp32", "fp16", "bf16"};

int precision_code(const amp::AmpConfig& amp) {
  if (amp.level == amp::OptLevel::O0) return 0;
  return amp.dtype == kBFloat16 ? 2 : 1;
}

std::string amp_options(int precision, int level) {
  return std::string("--precision ") + kPrecisions[precision] + " --opt-level O" +
         std::to_string(level);
}
}  // namespace

void record_amp_options(const amp::AmpConfig& amp, std::map<std::string, double>& scalars) {
  scalars["run.precision"] = precision_code(amp);
  scalars["run.opt_level"] = static_cast<double>(static_cast<int>(amp.level));
}

void check_amp_options(const std::map<std::string, double>& saved, const amp::AmpConfig& amp,
                       const std::string& program) {
  if (!saved.count("run.precision") || !saved.count("run.opt_level")) return;  // older files
  const double precision = saved.at("run.precision"), level = saved.at("run.opt_level");
  HG_CHECK(precision >= 0 && precision <= 2 && level >= 0 && level <= 3, program,
           ": the checkpoint's run.precision/run.opt_level (", precision, ", ", level,
           ") are not valid");
  const int p = static_cast<int>(precision), l = static_cast<int>(level);
  const int here = static_cast<int>(amp.level);
  HG_CHECK(p == precision_code(amp) && l == here, program, ": the checkpoint was saved by a run ",
           "with ", amp_options(p, l), "; resume with the same (this run has ",
           amp_options(precision_code(amp), here), ")");
}

void note_resumed_loss_scale(const Args& args, const std::map<std::string, double>& saved,
                             const std::string& key) {
  if (!args.given("loss-scale") || args.str("loss-scale") == "none" || !saved.count(key)) return;
  std::printf("note: the checkpoint's loss scale %g replaces --loss-scale %s\n", saved.at(key),
              args.str("loss-scale").c_str());
}

}  // namespace hg::examples
