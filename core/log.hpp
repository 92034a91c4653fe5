#pragma once
// Minimal leveled logging to stderr, one line per event, safe from any thread.

#include <cstdio>
#include <string>
#include <string_view>

namespace p2p {

enum class log_level : int { debug = 0, info = 1, warn = 2, error = 3, quiet = 4 };

inline log_level& current_log_level() {
  static log_level level = log_level::info;
  return level;
}

inline void log(log_level level, std::string_view message) {
  if (level < current_log_level())
    return;
  static const char* const names[] = {"debug", "info", "warn", "error"};
  std::string line = "[" + std::string(names[int(level)]) + "] " + std::string(message) + "\n";
  std::fwrite(line.data(), 1, line.size(), stderr);
}

} // namespace p2p
