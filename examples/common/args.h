#pragma once
// A small command-line parser for the examples: --name value / --flag, with defaults, help text
// and clear errors for unknown options or bad values.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace hg::examples {

class Args {
 public:
  Args(std::string program, std::string summary);
  // Declares an option with a default (flags: default "false", given without a value).
  void option(const std::string& name, const std::string& default_value, const std::string& help);
  void flag(const std::string& name, const std::string& help);
  // Parses argv; prints help and exits 0 on --help; throws hg::Error on misuse.
  void parse(int argc, char** argv);

  std::string str(const std::string& name) const;
  int64_t integer(const std::string& name) const;
  // Checks every named integer option against its lowest allowed value, naming the option.
  void require_at_least(const std::map<std::string, int64_t>& lowest) const;
  double number(const std::string& name) const;
  bool on(const std::string& name) const;
  bool given(const std::string& name) const;
  std::string help() const;

 private:
  struct Spec {
    std::string value, help;
    bool is_flag = false, given = false;
  };
  std::string program_, summary_;
  std::map<std::string, Spec> specs_;
  std::vector<std::string> order_;
};

}  // namespace hg::examples
