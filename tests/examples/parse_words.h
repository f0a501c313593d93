#pragma once
// Parses `words` (the options, without the program name) with args, as a command line would.
#include <string>
#include <vector>

#include "common/args.h"

namespace hg::test {

inline void parse_words(examples::Args& args, std::vector<std::string> words) {
  words.insert(words.begin(), "prog");
  std::vector<char*> argv;
  for (std::string& w : words) argv.push_back(w.data());
  args.parse(static_cast<int>(argv.size()), argv.data());
}

}  // namespace hg::test
