#include "checkpoint.h"

#include <cstdlib>
#include <sstream>

#include "core/error.h"
#include "nn/serialization.h"

namespace hg::examples {

namespace {
std::string exact(double v) {  // round-trips a double through text
  std::ostringstream out;
  out.precision(17);
  out << v;
  return out.str();
}
}  // namespace

void save_checkpoint(const std::string& path, const nn::Module& model, const optim::Optimizer& opt,
                     const TrainingState& state) {
  nn::TensorMap tensors;
  for (const auto& [name, t] : model.state_dict()) tensors["model." + name] = t;
  const optim::OptimizerStateDict optim_state = opt.state_dict();
  for (const auto& [name, t] : optim_state.tensors) tensors["optim." + name] = t;
  std::map<std::string, std::string> meta{{"format", "halfgrad-checkpoint"},
                                          {"epoch", std::to_string(state.epoch)}};
  for (const auto& [name, v] : optim_state.scalars) meta["optim." + name] = exact(v);
  for (const auto& [name, v] : state.scalars) meta["train." + name] = exact(v);
  nn::save_safetensors(tensors, path, meta);
}

TrainingState load_checkpoint(const std::string& path, nn::Module& model, optim::Optimizer& opt) {
  std::map<std::string, std::string> meta;
  const nn::TensorMap tensors = nn::load_safetensors(path, &meta);
  HG_CHECK(meta.count("format") && meta["format"] == "halfgrad-checkpoint", "load_checkpoint: ",
           path, " is not a halfgrad training checkpoint (no format=halfgrad-checkpoint metadata)");
  std::map<std::string, Tensor> model_state;
  optim::OptimizerStateDict optim_state;
  for (const auto& [name, t] : tensors) {
    if (name.rfind("model.", 0) == 0) model_state[name.substr(6)] = t;
    else if (name.rfind("optim.", 0) == 0) optim_state.tensors[name.substr(6)] = t;
  }
  TrainingState state;
  for (const auto& [key, value] : meta) {
    if (key.rfind("optim.", 0) == 0) optim_state.scalars[key.substr(6)] = std::strtod(value.c_str(), nullptr);
    else if (key.rfind("train.", 0) == 0) state.scalars[key.substr(6)] = std::strtod(value.c_str(), nullptr);
  }
  state.epoch = std::strtoll(meta["epoch"].c_str(), nullptr, 10);
  model.load_state_dict(model_state);
  opt.load_state_dict(optim_state);
  return state;
}

}  // namespace hg::examples
