#pragma once
// The task model: states, priorities, the record persisted for every task, and the state
// machine. Plain C++: the task_manager actor and the tests share it.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace p2p {

enum class task_state : uint8_t { queued = 0, running, completed, failed, cancelled, timed_out };
constexpr size_t task_state_count = 6;

enum class task_priority : uint8_t { low = 0, normal, high, critical };

[[nodiscard]] std::string_view to_string(task_state s);
[[nodiscard]] std::string_view to_string(task_priority p);
[[nodiscard]] std::optional<task_priority> parse_priority(std::string_view s);

/// A final state is never left.
[[nodiscard]] constexpr bool is_final(task_state s) {
  return s == task_state::completed || s == task_state::failed || s == task_state::cancelled ||
         s == task_state::timed_out;
}

/// The allowed transitions: queued -> running | cancelled; running -> completed | failed |
/// cancelled | timed_out | queued (a retry, or a restart while running).
[[nodiscard]] bool can_transition(task_state from, task_state to);

struct task_record {
  uint64_t id = 0;
  std::string type;
  std::string params;  // kernel options, e.g. "chunk_size overlap top_n" for text_processing
  std::string payload; // the document text
  task_priority priority = task_priority::normal;
  uint32_t timeout_ms = 30000;
  uint32_t max_retries = 3;
  task_state state = task_state::queued;
  uint32_t attempts = 0;      // runs started
  uint32_t result_writes = 0; // times a result was recorded: 1 for a completed task, never more
  uint64_t created_ms = 0, started_ms = 0, finished_ms = 0;
  std::string result; // when completed: JSON, or an embedding's floats as raw bytes (tasks/task_kernels.hpp)
  std::string error;  // when failed, cancelled or timed out
  // Not encoded. False for a task whose submitter waits for its end (task_submit_wait): its
  // answer is its acknowledgement, so it is held in memory only and never written.
  bool durable = true;
};

/// Moves `t` to `to` at time `now_ms`; false (and no change) when the state machine forbids it.
[[nodiscard]] bool transition(task_record& t, task_state to, uint64_t now_ms);

/// Binary encoding of a record, without its payload, for the tasks column family: a state
/// change rewrites this small record, never the payload, which is written once under
/// payload_key(id). Keys are big-endian ids, so they sort by id, the payload right after.
[[nodiscard]] std::string encode(const task_record& t);
[[nodiscard]] bool decode(std::string_view bytes, task_record& out);
[[nodiscard]] std::string task_key(uint64_t id);
[[nodiscard]] std::string payload_key(uint64_t id);
/// The id of a task_key or payload_key, and which of the two it is.
[[nodiscard]] bool parse_task_key(std::string_view key, uint64_t& id, bool& is_payload);

} // namespace p2p
