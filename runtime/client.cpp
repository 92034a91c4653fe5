#include "runtime/client.hpp"

#include <cstdio>

#include <simdjson.h>

#include <unistd.h>

namespace p2p::client {

bool read_message_run(const std::string& json, message_run& out) {
  simdjson::dom::parser parser;
  simdjson::dom::element r;
  std::string_view error;
  if (parser.parse(json).get(r) || r["done"].get(out.done) || r["errors"].get(out.errors)
      || r["seconds"].get(out.seconds) || r["p50_us"].get(out.p50_us) || r["p99_us"].get(out.p99_us)
      || r["error"].get(error))
    return false;
  out.error = std::string(error);
  return true;
}

std::string format_float(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", v); // 9 digits: a float reads back exactly
  return buf;
}

progress_line::progress_line(std::string what, size_t total, bool enabled)
  : what_(std::move(what)), total_(total), enabled_(enabled && isatty(STDOUT_FILENO) && isatty(STDERR_FILENO)) {}

progress_line::~progress_line() { finish(); }

void progress_line::update(size_t done) {
  if (!enabled_)
    return;
  auto now = std::chrono::steady_clock::now();
  if (now - last_ < std::chrono::milliseconds(200))
    return;
  last_ = now;
  double secs = std::chrono::duration<double>(now - start_).count();
  double rate = secs > 0 ? double(done) / secs : 0;
  char line[160];
  if (total_ > 0 && rate > 0)
    std::snprintf(line, sizeof line, "\r%s: %zu/%zu (%.0f/s, ETA %.0f s)   ", what_.c_str(), done, total_, rate,
                  double(total_ - std::min(done, total_)) / rate);
  else
    std::snprintf(line, sizeof line, "\r%s: %zu (%.0f/s)   ", what_.c_str(), done, rate);
  std::fputs(line, stderr);
  std::fflush(stderr);
  drawn_ = true;
}

void progress_line::finish() {
  if (drawn_)
    std::fputs("\r\033[K", stderr);
  drawn_ = false;
}

} // namespace p2p::client
