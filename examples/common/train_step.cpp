#include "train_step.h"

namespace hg::examples {

Device parse_device(const Args& args, const std::string& program) {
  const std::string name = args.str("device");
  HG_CHECK(name == "cpu" || name == "cuda", program, ": --device must be cpu or cuda, got ", name);
  HG_CHECK(name == "cpu" || cuda::is_available(), program, ": --device cuda, but no CUDA device ",
           "is available (or halfgrad was built without CUDA)");
  HG_CHECK(!args.on("graph") || name == "cuda", program, ": --graph needs --device cuda");
  return name == "cuda" ? kCUDA : kCPU;
}

GraphedStep::Step amp_train_step(nn::Module& model, optim::Optimizer& opt, amp::GradScaler& scaler,
                                 const amp::AmpConfig& amp, double label_smoothing) {
  return [&model, &opt, &scaler, &amp, label_smoothing](const Tensor& x, const Tensor& y) {
    opt.zero_grad();
    Tensor loss;
    {
      const auto region = amp.autocast();  // the forward and the loss only, as in PyTorch
      // O1: the fp32 weights' casts to 16 bits in one launch (and their gradients' casts back
      // in one), not one per weight; the same bits. (At O2 the weights are 16-bit already, and
      // batch norm's fp32 ones are never cast.)
      if (amp.level == amp::OptLevel::O1) amp::cache_weight_casts(model.parameters());
      loss = cross_entropy(model(x), y, Reduction::Mean, -100, label_smoothing);
    }
    scaler.scale(loss).backward();
    scaler.step(opt);
    scaler.update();
    return loss;
  };
}

}  // namespace hg::examples
