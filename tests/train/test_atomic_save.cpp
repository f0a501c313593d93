// A process killed (SIGKILL) in the middle of saving a checkpoint leaves the previous checkpoint
// loadable and intact: the child saves a 4 MiB checkpoint over and over, every tensor filled
// with the save's number; the parent kills it at random moments and checks that the file holds
// one whole save (every value equal to the step in its metadata).
#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <random>
#include <thread>

#include "child_process.h"
#include "test_util.h"

using namespace hg;

namespace {

std::shared_ptr<nn::Sequential> big_model() {  // 4 x 1 MiB weights: a save takes milliseconds
  return std::make_shared<nn::Sequential>(std::initializer_list<std::shared_ptr<nn::Module>>{
      std::make_shared<nn::Linear>(512, 512), std::make_shared<nn::Linear>(512, 512),
      std::make_shared<nn::Linear>(512, 512), std::make_shared<nn::Linear>(512, 512)});
}

void fill_model(nn::Module& model, double value) {
  NoGradGuard no_grad;
  for (Tensor& p : model.parameters()) p.fill_(value);
}

// Loads path and checks it is one whole save: returns its step.
int64_t check_intact(const std::string& path) {
  auto model = big_model();
  train::Checkpoint ckpt;
  ckpt.model(*model);
  const int64_t step = ckpt.load(path).step;
  for (const Tensor& p : model->parameters()) {
    const std::vector<float> v = p.to_vector<float>();
    const bool whole = std::all_of(v.begin(), v.end(), [&](float x) { return x == step; });
    REQUIRE_MESSAGE(whole, path << " mixes saves: a tensor is not all " << step);
  }
  return step;
}

// At least kMinRounds kills, and more (up to kMaxRounds) until one of them hit a save in the
// middle of writing its temporary file (a save takes ~10-100 ms, mostly fsync). Odd rounds kill
// at a random moment; even rounds wait for a temporary file to appear first, so that a loaded
// machine, where the serialisation before the file exists can take most of a save, still
// gets kills in the middle of writing (15 random kills once all missed it).
constexpr int kMinRounds = 3, kMaxRounds = 15;

// The file's inode: a new one after every completed save (rename), 0 when absent.
uint64_t file_id(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_ino) : 0;
}

int count_temporaries(const std::string& path) {
  namespace fs = std::filesystem;
  int n = 0;
  const std::string prefix = fs::path(path).filename().string() + ".tmp.";
  for (const auto& entry : fs::directory_iterator(fs::path(path).parent_path()))
    if (entry.path().filename().string().rfind(prefix, 0) == 0) ++n;
  return n;
}

}  // namespace

// The child's side: "save-loop;<file>": saves steps 1, 2, 3, ... until killed.
TEST_CASE("child process: save checkpoints in a loop (does nothing unless spawned by a test)") {
  const std::vector<std::string> task = hg::test::split_task(hg::test::child_task());
  if (task.size() != 2 || task[0] != "save-loop") return;
  auto model = big_model();
  train::Checkpoint ckpt;
  ckpt.model(*model);
  for (int64_t step = 1; step < 1000000; ++step) {
    fill_model(*model, static_cast<double>(step));
    ckpt.save(task[1], {.epoch = 0, .step = step});
  }
}

TEST_CASE("SIGKILL in the middle of a save leaves the previous checkpoint loadable and intact") {
  const std::string dir =
      (std::filesystem::temp_directory_path() / ("hg_atomic_" + std::to_string(::getpid())))
          .string();
  std::filesystem::create_directories(dir);
  const std::string path = dir + "/run.ckpt";
  {
    auto model = big_model();
    fill_model(*model, 0.0);
    train::Checkpoint ckpt;
    ckpt.model(*model);
    ckpt.save(path, {.epoch = 0, .step = 0});
  }
  std::mt19937 rng(2026);
  int64_t last_step = 0;
  int killed_mid_save = 0;
  int rounds = 0;
  for (; rounds < kMaxRounds && (rounds < kMinRounds || killed_mid_save == 0); ++rounds) {
    const uint64_t inode = file_id(path);
    const pid_t pid = hg::test::spawn_child("save-loop;" + path);
    REQUIRE(pid > 0);
    // Wait until the child has replaced the file once (each save renames a new file over it),
    // then kill it a random moment later, while it is busy writing the next one.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (file_id(path) == inode && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::microseconds(500));
    if (rounds % 2 == 1) {
      std::this_thread::sleep_for(std::chrono::microseconds(rng() % 150000));
    } else {
      while (count_temporaries(path) == 0 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::microseconds(100));
      std::this_thread::sleep_for(std::chrono::microseconds(rng() % 2000));
    }
    REQUIRE(::kill(pid, SIGKILL) == 0);
    CHECK(hg::test::wait_child(pid) == -1);  // it died by the signal, not by finishing
    killed_mid_save += count_temporaries(path) > 0;
    const int64_t step = check_intact(path);
    CHECK(step >= 0);
    last_step = std::max(last_step, step);
  }
  MESSAGE(rounds << " kills, " << killed_mid_save
                 << " of them during a save (a temporary file was left); "
                    "the largest intact step seen was "
                 << last_step);
  CHECK(last_step > 0);        // the children did overwrite the file
  CHECK(killed_mid_save > 0);  // and at least one kill interrupted a save
  {
    // The next save removes what the killed ones left (their processes are gone).
    auto model = big_model();
    train::Checkpoint ckpt;
    ckpt.model(*model);
    ckpt.save(path, {.epoch = 0, .step = 0});
    CHECK(count_temporaries(path) == 0);
  }
  std::filesystem::remove_all(dir);
}
