#include "args.h"

#include <cstdlib>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "halfgrad/core/error.h"

namespace hg::examples {

Args::Args(std::string program, std::string summary)
    : program_(std::move(program)), summary_(std::move(summary)) {
  flag("help", "show this help");
}

void Args::option(const std::string& name, const std::string& default_value,
                  const std::string& help) {
  specs_[name] = {default_value, help, false, false};
  order_.push_back(name);
}

void Args::flag(const std::string& name, const std::string& help) {
  specs_[name] = {"false", help, true, false};
  order_.push_back(name);
}

void Args::parse(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    HG_CHECK(arg.rfind("--", 0) == 0, program_, ": unexpected argument \"", arg, "\" (see --help)");
    std::string name = arg.substr(2), value;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    auto it = specs_.find(name);
    HG_CHECK(it != specs_.end(), program_, ": unknown option --", name, " (see --help)");
    Spec& spec = it->second;
    if (spec.is_flag) {
      spec.value = "true";
    } else if (!value.empty()) {
      spec.value = value;
    } else {
      HG_CHECK(i + 1 < argc, program_, ": option --", name, " needs a value");
      spec.value = argv[++i];
    }
    spec.given = true;
  }
  if (on("help")) {
    std::cout << help();
    std::exit(0);
  }
}

std::string Args::str(const std::string& name) const {
  auto it = specs_.find(name);
  HG_CHECK(it != specs_.end(), program_, ": option --", name, " was never declared");
  return it->second.value;
}

int64_t Args::integer(const std::string& name) const {
  const std::string v = str(name);
  char* end = nullptr;
  const long long n = std::strtoll(v.c_str(), &end, 10);
  HG_CHECK(!v.empty() && *end == '\0', program_, ": --", name, " expects an integer, got \"", v,
           "\"");
  return n;
}

void Args::require_at_least(const std::map<std::string, int64_t>& lowest) const {
  for (const auto& [name, low] : lowest) {
    const int64_t v = integer(name);
    HG_CHECK(v >= low, program_, ": --", name, " must be >= ", low, ", got ", v);
  }
}

double Args::number(const std::string& name) const {
  const std::string v = str(name);
  char* end = nullptr;
  const double x = std::strtod(v.c_str(), &end);
  HG_CHECK(!v.empty() && *end == '\0', program_, ": --", name, " expects a number, got \"", v,
           "\"");
  return x;
}

bool Args::on(const std::string& name) const { return str(name) == "true"; }
bool Args::given(const std::string& name) const { return specs_.at(name).given; }

std::string Args::help() const {
  std::ostringstream out;
  out << "usage: " << program_ << " [options]\n" << summary_ << "\n\noptions:\n";
  for (const auto& name : order_) {
    const Spec& s = specs_.at(name);
    std::string left = "  --" + name + (s.is_flag ? "" : " VALUE");
    out << std::left << std::setw(26) << left << s.help;
    if (!s.is_flag && !s.value.empty()) out << " (default " << s.value << ")";
    out << '\n';
  }
  return out.str();
}

}  // namespace hg::examples
