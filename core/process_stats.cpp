#include "core/process_stats.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <unistd.h>

namespace p2p {

namespace {

std::string proc_path(int pid, const char* file) {
  return "/proc/" + (pid == 0 ? std::string("self") : std::to_string(pid)) + "/" + file;
}

uint64_t resident_of(int pid) {
  std::ifstream statm(proc_path(pid, "statm"));
  uint64_t size = 0, resident = 0;
  if (!(statm >> size >> resident))
    return 0;
  return resident * uint64_t(sysconf(_SC_PAGESIZE));
}

double cpu_of(int pid) {
  std::ifstream stat(proc_path(pid, "stat"));
  std::string line;
  if (!std::getline(stat, line))
    return -1;
  // Fields after the command name (which may hold spaces, inside parentheses): state is the
  // 3rd field, utime the 14th, stime the 15th.
  auto close = line.rfind(')');
  if (close == std::string::npos)
    return -1;
  std::istringstream rest(line.substr(close + 2));
  std::string field;
  uint64_t utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14)
      utime = std::stoull(field);
    else if (i == 15)
      stime = std::stoull(field);
  }
  return double(utime + stime) / double(sysconf(_SC_CLK_TCK));
}

} // namespace

/// CPU time of every thread of `pid` in nanoseconds from the scheduler's own count
/// (/proc/PID/task/*/schedstat), -1 when unavailable: /proc/PID/stat counts in 10 ms ticks,
/// too coarse for a bench step of 30 ms.
double precise_cpu_of(int pid) {
  std::error_code ec;
  std::filesystem::directory_iterator tasks(proc_path(pid, "task"), ec);
  if (ec)
    return -1;
  uint64_t ns = 0;
  bool any = false;
  for (auto& task : tasks) {
    std::ifstream stat(task.path() / "schedstat");
    uint64_t run = 0;
    if (stat >> run) {
      ns += run;
      any = true;
    }
  }
  return any ? double(ns) / 1e9 : -1;
}

process_sample sample_process(int pid) {
  process_sample s;
  s.cpu_seconds = precise_cpu_of(pid);
  if (s.cpu_seconds < 0)
    s.cpu_seconds = cpu_of(pid);
  if (s.cpu_seconds < 0)
    return {};
  s.ok = true;
  s.rss_bytes = resident_of(pid);
  std::ifstream io(proc_path(pid, "io"));
  std::string key;
  uint64_t value = 0;
  while (io >> key >> value) {
    if (key == "read_bytes:")
      s.read_bytes = value;
    else if (key == "write_bytes:")
      s.write_bytes = value;
  }
  return s;
}

uint64_t resident_bytes() { return resident_of(0); }

double cpu_seconds() { return std::max(0.0, cpu_of(0)); }

} // namespace p2p
