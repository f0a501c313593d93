#include "halfgrad/train/checkpoint_format.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <sstream>

#include "halfgrad/core/error.h"

namespace hg::train::detail {
namespace {

constexpr double kMaxExactInteger = 9007199254740992.0;  // 2^53: counts stay exact in a double
const std::set<std::string> kParts{"model",     "optimizer", "scaler",
                                   "scheduler", "generator", "data"};

// A metadata value for messages: quoted and cut short, whatever the file holds.
std::string shown(const std::string& text) {
  std::string out;
  for (char c : text.substr(0, 40)) out += (c >= 32 && c < 127) ? c : '?';
  return "\"" + out + (text.size() > 40 ? "...\"" : "\"");
}

const std::string& lookup(const Metadata& meta, const std::string& key, const std::string& where) {
  auto it = meta.find(key);
  HG_CHECK(it != meta.end(), where, "the metadata lacks \"", key, "\"");
  return it->second;
}

double to_real(const std::string& key, const std::string& text, const std::string& where) {
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  HG_CHECK(!text.empty() && end == text.c_str() + text.size(), where, "metadata \"", key,
           "\" = ", shown(text), " is not a number");
  return v;
}

int64_t to_count(const std::string& key, const std::string& text, const std::string& where) {
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(text.c_str(), &end, 10);
  HG_CHECK(!text.empty() && end == text.c_str() + text.size() && errno == 0 && v >= 0, where,
           "metadata \"", key, "\" = ", shown(text), " is not a count (an integer >= 0)");
  return v;
}

uint64_t to_u64(const std::string& key, const std::string& text, const std::string& where) {
  char* end = nullptr;
  errno = 0;
  const unsigned long long v = std::strtoull(text.c_str(), &end, 10);
  HG_CHECK(!text.empty() && text[0] >= '0' && text[0] <= '9' && end == text.c_str() + text.size() &&
               errno == 0,
           where, "metadata \"", key, "\" = ", shown(text), " is not an unsigned 64-bit integer");
  return v;
}

const std::set<std::string> kSchedulerCounters = {"last_epoch", "num_bad_epochs",
                                                  "cooldown_counter"};

// Optimizer, scaler and scheduler values feed integer counters and lrs: finite, and the
// counters whole numbers that a double holds exactly.
void check_state_scalar(const std::string& key, double v, bool counter, const std::string& where) {
  HG_CHECK(std::isfinite(v), where, "metadata \"", key, "\" = ", v, " is not finite");
  HG_CHECK(!counter || (v >= 0 && v <= kMaxExactInteger && v == std::floor(v)), where,
           "metadata \"", key, "\" = ", v, " is not a count (a whole number in [0, 2^53])");
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::set<std::string> parse_parts(const Metadata& meta, const std::string& where) {
  auto contents = meta.find("contents");
  if (contents == meta.end()) return {"model", "optimizer"};  // version 1 (the examples' files)
  HG_CHECK(lookup(meta, "version", where) == "2", where, "unsupported checkpoint version ",
           shown(meta.at("version")), " (this halfgrad reads 1 and 2)");
  std::set<std::string> parts;
  std::stringstream list(contents->second);
  for (std::string part; std::getline(list, part, ',');) {
    HG_CHECK(kParts.count(part), where, "unknown part ", shown(part), " in \"contents\"");
    parts.insert(part);
  }
  return parts;
}

void parse_prefixed(const Metadata& meta, CheckpointContents& out, const std::string& where) {
  for (const auto& [key, text] : meta) {
    const auto dot = key.find('.');
    if (dot == std::string::npos) continue;
    const std::string prefix = key.substr(0, dot), name = key.substr(dot + 1);
    if (prefix == "train") {
      out.progress.scalars[name] = to_real(key, text, where);
    } else if (prefix == "optim") {
      const double v = to_real(key, text, where);
      check_state_scalar(key, v, ends_with(name, ".step") || ends_with(name, ".num_params"), where);
      out.optimizer.scalars[name] = v;
    } else if (prefix == "scaler") {
      const double v = to_real(key, text, where);
      const bool factor = name == "scale" || name == "growth_factor" || name == "backoff_factor";
      check_state_scalar(key, v, !factor, where);
      out.scaler[name] = v;
    } else if (prefix == "sched") {
      const double v = to_real(key, text, where);
      // ReduceLROnPlateau's best is +-inf until it has seen a metric
      if (name != "best" || !std::isinf(v))
        check_state_scalar(key, v, kSchedulerCounters.count(name) > 0, where);
      out.scheduler[name] = v;
    }
  }
}

void require_part(const CheckpointContents& c, const std::string& part, bool has_values,
                  const std::string& where) {
  HG_CHECK(c.parts.count(part) || !has_values, where, "holds ", part,
           " entries but \"contents\" does not list ", part);
}

}  // namespace

std::string exact_text(double v) {
  std::ostringstream out;
  out.precision(17);
  out << v;
  return out.str();
}

std::string integer_text(uint64_t v) { return std::to_string(v); }

CheckpointContents parse_contents(const nn::TensorMap& tensors, const Metadata& meta,
                                  const std::string& where) {
  HG_CHECK(meta.count("format") && meta.at("format") == "halfgrad-checkpoint", where,
           "not a halfgrad training checkpoint (no format=halfgrad-checkpoint metadata)");
  CheckpointContents c;
  c.parts = parse_parts(meta, where);
  for (const auto& [name, t] : tensors) {
    if (name.rfind("model.", 0) == 0)
      c.model[name.substr(6)] = t;
    else if (name.rfind("optim.", 0) == 0)
      c.optimizer.tensors[name.substr(6)] = t;
    else
      HG_FAIL(where, "unexpected tensor ", shown(name), " (expected model.* or optim.*)");
  }
  parse_prefixed(meta, c, where);
  if (meta.count("epoch")) c.progress.epoch = to_count("epoch", meta.at("epoch"), where);
  if (meta.count("step")) c.progress.step = to_count("step", meta.at("step"), where);
  require_part(c, "model", !c.model.empty(), where);
  require_part(c, "optimizer", !c.optimizer.tensors.empty() || !c.optimizer.scalars.empty(), where);
  require_part(c, "scaler", !c.scaler.empty(), where);
  require_part(c, "scheduler", !c.scheduler.empty(), where);
  if (c.parts.count("generator")) {
    c.generator.seed = to_u64("rng.seed", lookup(meta, "rng.seed", where), where);
    c.generator.offset = to_u64("rng.offset", lookup(meta, "rng.offset", where), where);
  }
  if (c.parts.count("data")) {
    c.data.seed = to_u64("data.seed", lookup(meta, "data.seed", where), where);
    c.data.epoch = to_count("data.epoch", lookup(meta, "data.epoch", where), where);
    c.data.next_batch = to_count("data.next_batch", lookup(meta, "data.next_batch", where), where);
    if (meta.count("data.samples")) {
      std::array<int64_t, 4> layout{};
      const char* keys[] = {"data.samples", "data.batch_size", "data.shuffle", "data.drop_last"};
      for (size_t i = 0; i < layout.size(); ++i)
        layout[i] = to_count(keys[i], lookup(meta, keys[i], where), where);
      c.data_layout = layout;
    }
  }
  return c;
}

std::array<int64_t, 4> layout_of(const data::DataLoader& loader) {
  const data::DataLoaderOptions& o = loader.options();
  return {loader.dataset().size(), o.batch_size, o.shuffle ? 1 : 0, o.drop_last ? 1 : 0};
}

}  // namespace hg::train::detail
