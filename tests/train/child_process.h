#pragma once
// Runs a test case of this very test binary in a new process (/proc/self/exe), so that a resumed
// run shares no memory with the run that saved: the child sees HG_TEST_CHILD=<role>;<args> and
// only the test cases written for children do anything with it.
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

extern char** environ;

namespace hg::test {

inline constexpr const char* kChildVariable = "HG_TEST_CHILD";
inline constexpr const char* kChildTestCase = "-tc=child process: *";

// Starts the child test cases with HG_TEST_CHILD=task; returns its pid.
inline pid_t spawn_child(const std::string& task) {
  std::vector<std::string> env_strings{std::string(kChildVariable) + "=" + task};
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::string(*e).rfind(std::string(kChildVariable) + "=", 0) != 0) env_strings.push_back(*e);
  }
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::string exe = "/proc/self/exe", filter = kChildTestCase, quiet = "--no-version=true";
  std::vector<char*> argv{exe.data(), filter.data(), quiet.data(), nullptr};
  pid_t pid = -1;
  if (posix_spawn(&pid, exe.c_str(), nullptr, nullptr, argv.data(), envp.data()) != 0) return -1;
  return pid;
}

// The child's exit status (-1 when it did not exit normally, e.g. killed).
inline int wait_child(pid_t pid) {
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

inline int run_child(const std::string& task) {
  const pid_t pid = spawn_child(task);
  return pid < 0 ? -1 : wait_child(pid);
}

// The task given to this process, or "" in an ordinary test run.
inline std::string child_task() {
  const char* task = std::getenv(kChildVariable);
  return task ? task : "";
}

// Splits "a;b;c".
inline std::vector<std::string> split_task(const std::string& task) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    const size_t end = task.find(';', start);
    parts.push_back(task.substr(start, end - start));
    if (end == std::string::npos) return parts;
    start = end + 1;
  }
}

}  // namespace hg::test
