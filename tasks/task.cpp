#include "tasks/task.hpp"

#include <cstring>

namespace p2p {

namespace {

constexpr uint8_t record_version = 1;

template <class T>
void put(std::string& out, T x) {
  out.append(reinterpret_cast<const char*>(&x), sizeof x);
}

void put_string(std::string& out, std::string_view s) {
  put(out, uint32_t(s.size()));
  out.append(s);
}

struct reader {
  std::string_view in;
  bool ok = true;

  template <class T>
  T get() {
    T x{};
    if (in.size() < sizeof x) {
      ok = false;
      return x;
    }
    std::memcpy(&x, in.data(), sizeof x);
    in.remove_prefix(sizeof x);
    return x;
  }

  std::string get_string() {
    auto n = get<uint32_t>();
    if (!ok || in.size() < n) {
      ok = false;
      return {};
    }
    std::string s(in.substr(0, n));
    in.remove_prefix(n);
    return s;
  }
};

} // namespace

std::string_view to_string(task_state s) {
  static constexpr std::array<std::string_view, task_state_count> names{"queued",    "running",   "completed",
                                                                          "failed",    "cancelled", "timed_out"};
  return names[size_t(s)];
}

std::string_view to_string(task_priority p) {
  static constexpr std::array<std::string_view, 4> names{"low", "normal", "high", "critical"};
  return names[size_t(p)];
}

std::optional<task_priority> parse_priority(std::string_view s) {
  for (uint8_t p = 0; p < 4; ++p)
    if (to_string(task_priority(p)) == s)
      return task_priority(p);
  return std::nullopt;
}

bool can_transition(task_state from, task_state to) {
  switch (from) {
    case task_state::queued: return to == task_state::running || to == task_state::cancelled;
    case task_state::running:
      return to == task_state::completed || to == task_state::failed || to == task_state::cancelled ||
             to == task_state::timed_out || to == task_state::queued;
    default: return false;
  }
}

bool transition(task_record& t, task_state to, uint64_t now_ms) {
  if (!can_transition(t.state, to))
    return false;
  if (to == task_state::running) {
    ++t.attempts;
    t.started_ms = now_ms;
  }
  if (to == task_state::completed)
    ++t.result_writes;
  if (is_final(to))
    t.finished_ms = now_ms;
  t.state = to;
  return true;
}

std::string encode(const task_record& t) {
  std::string out;
  out.reserve(64 + t.type.size() + t.params.size() + t.result.size() + t.error.size());
  put(out, record_version);
  put(out, t.id);
  put_string(out, t.type);
  put_string(out, t.params);
  put(out, uint8_t(t.priority));
  put(out, t.timeout_ms);
  put(out, t.max_retries);
  put(out, uint8_t(t.state));
  put(out, t.attempts);
  put(out, t.result_writes);
  put(out, t.created_ms);
  put(out, t.started_ms);
  put(out, t.finished_ms);
  put_string(out, t.result);
  put_string(out, t.error);
  return out;
}

bool decode(std::string_view bytes, task_record& t) {
  reader r{bytes};
  if (r.get<uint8_t>() != record_version)
    return false;
  t.id = r.get<uint64_t>();
  t.type = r.get_string();
  t.params = r.get_string();
  auto priority = r.get<uint8_t>();
  t.timeout_ms = r.get<uint32_t>();
  t.max_retries = r.get<uint32_t>();
  auto state = r.get<uint8_t>();
  t.attempts = r.get<uint32_t>();
  t.result_writes = r.get<uint32_t>();
  t.created_ms = r.get<uint64_t>();
  t.started_ms = r.get<uint64_t>();
  t.finished_ms = r.get<uint64_t>();
  t.result = r.get_string();
  t.error = r.get_string();
  if (!r.ok || !r.in.empty() || priority > 3 || state >= task_state_count)
    return false;
  t.priority = task_priority(priority);
  t.state = task_state(state);
  return true;
}

std::string task_key(uint64_t id) {
  std::string k(8, '\0');
  for (int i = 0; i < 8; ++i)
    k[i] = char(id >> (56 - 8 * i));
  return k;
}

std::string payload_key(uint64_t id) { return task_key(id) + "p"; }

bool parse_task_key(std::string_view key, uint64_t& id, bool& is_payload) {
  if (key.size() != 8 && !(key.size() == 9 && key[8] == 'p'))
    return false;
  id = 0;
  for (int i = 0; i < 8; ++i)
    id = (id << 8) | uint8_t(key[i]);
  is_payload = key.size() == 9;
  return true;
}

} // namespace p2p
