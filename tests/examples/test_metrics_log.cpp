// examples/cifar10/metrics_log: the JSON Lines records of hg_cifar10 --metrics.
#include "cifar10/metrics_log.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>

#include "test_util.h"

using namespace hg;

namespace {

std::string read_all(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

TEST_CASE("MetricsLog: an epoch without evaluation (--eval-every) logs test_acc null") {
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("hg_metrics_" + std::to_string(::getpid()) + ".jsonl"))
                               .string();
  std::remove(path.c_str());
  {
    examples::MetricsLog log(path);
    REQUIRE(log.enabled());
    examples::EpochRecord evaluated;
    evaluated.epoch = 2;
    evaluated.test_acc = 0.5;
    evaluated.test_acc_tta = 0.75;
    examples::EpochRecord skipped;
    skipped.epoch = 1;
    skipped.test_acc = std::numeric_limits<double>::quiet_NaN();
    log.epoch(skipped);
    log.epoch(evaluated);
  }
  const std::string text = read_all(path);
  std::remove(path.c_str());
  const auto newline = text.find('\n');
  REQUIRE(newline != std::string::npos);
  CHECK(text.substr(0, newline).find("\"epoch\":1,\"train_loss\":0,\"test_acc\":null,") !=
        std::string::npos);
  CHECK(text.substr(0, newline).find("\"test_acc_tta\":null,") != std::string::npos);
  CHECK(text.substr(newline).find(
            "\"epoch\":2,\"train_loss\":0,\"test_acc\":0.5,\"test_acc_tta\":0.75,") !=
        std::string::npos);
  CHECK(text.find("nan") == std::string::npos);
}

TEST_CASE("MetricsLog: an empty path writes nothing") {
  examples::MetricsLog log("");
  CHECK_FALSE(log.enabled());
  log.epoch(examples::EpochRecord{});  // no file, no throw
}
