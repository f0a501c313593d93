// The main() of every test executable: doctest's, plus one guard. ctest runs each case by name
// (-tc=<name>); a name that matches nothing (CMake once split names containing ';' in two)
// would pass silently, so a run with a test-case filter that selected no case fails.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>
#include <cstring>

#include "quiet_reporter.h"

namespace {

int cases_selected = -1;  // set by the listener at the end of the run

struct SelectionListener : hg::test::QuietReporter {
  explicit SelectionListener(const doctest::ContextOptions&) {}
  void test_run_end(const doctest::TestRunStats& stats) override {
    cases_selected = static_cast<int>(stats.numTestCasesPassingFilters);
  }
};

bool filters_test_cases(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    for (const char* flag : {"-tc=", "--test-case=", "-dt-tc=", "--dt-test-case="})
      if (std::strncmp(argv[i], flag, std::strlen(flag)) == 0) return true;
  }
  return false;
}

}  // namespace

REGISTER_LISTENER("selection", 1, SelectionListener);

int main(int argc, char** argv) {
  doctest::Context context(argc, argv);
  const int result = context.run();
  if (context.shouldExit()) return result;
  if (result == 0 && filters_test_cases(argc, argv) && cases_selected == 0) {
    std::fprintf(stderr, "test_main: the test-case filter selected no test case\n");
    return 1;
  }
  return result;
}
