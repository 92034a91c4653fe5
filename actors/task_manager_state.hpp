#pragma once
// The task manager's state and the parts of it split over files: running tasks (dispatch,
// replies, group commit, peers) in task_manager.cpp, requests (submit, wait, cancel) and
// recovery in task_requests.cpp. Internal to actors/: include task_manager.hpp elsewhere.

#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <unordered_map>

#include <caf/all.hpp>

#include "actors/task_manager.hpp"
#include "actors/counted_actor.hpp"
#include "config/node_config.hpp"
#include "core/log.hpp"
#include "protocol/interfaces.hpp"
#include "storage/task_store.hpp"
#include "tasks/scheduling.hpp"
#include "tasks/task.hpp"

namespace p2p::task_manager_detail {

/// Tasks started together on one executor go in one message: at most this many of one type,
/// params and timeout, and at most this much payload (a bigger task goes alone), so that a
/// message is a fraction of a millisecond of small tasks and its timeout still means something
/// per task (perf/README "Tasks a submitter waits for").
constexpr size_t max_batch_tasks = 32;
constexpr size_t max_batch_bytes = 64 * 1024;

/// Work sent to an executor and not yet answered is counted in units: a task weighs one unit
/// per 2 KiB of payload, at least one. A worker holds up to two full messages of small tasks, or
/// one large task, so it is never idle between replies, and a task of higher priority waits
/// behind about as much work whatever the size of the tasks before it.
constexpr size_t unit_bytes = max_batch_bytes / max_batch_tasks;
constexpr size_t per_worker_in_flight = 2 * max_batch_tasks;
inline size_t weight(const task_record& t) { return 1 + t.payload.size() / unit_bytes; }


inline uint64_t now_ms() {
  return uint64_t(
    std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
}

/// Someone waiting for a set of tasks to end.
struct waiter {
  caf::typed_response_promise<task_outcomes> promise;
  task_outcomes out;
  size_t remaining = 0;
};

/// Where tasks run: a local worker, or a peer's node (which hands them to its workers).
struct executor : executor_slot {
  caf::actor handle;
  size_t tasks = 0; // tasks sent and not answered (load counts their units)
};

/// Where a task sent out runs, and the units it takes there.
struct run_place {
  std::string where;
  size_t units = 1;
};


struct manager_state {
  node_config cfg;
  std::unique_ptr<task_store> store;
  std::map<std::string, executor> executors; // "local/N" or "peer/ID"
  std::unordered_map<uint64_t, run_place> running_on; // task -> executor
  std::map<uint64_t, task_record> live; // queued and running
  std::set<std::pair<int, uint64_t>> queue; // (-priority, id): highest priority, then oldest, first
  std::shared_ptr<task_board> board = std::make_shared<task_board>(); // tasks by state and type, for status and metrics
  uint64_t next_id = 1;
  std::unordered_map<uint64_t, std::vector<std::pair<std::shared_ptr<waiter>, size_t>>> waiting;
  std::vector<uint64_t> unflushed; // tasks whose last transition is not yet written
  bool flush_scheduled = false;
  static inline const char* name = "task_manager";

  /// Writes `t` as it is now (a task held in memory only: nothing); false (logged) when storage fails.
  bool persist(const task_record& t) {
    auto written = store->update(t);
    if (!written.ok())
      log(log_level::error, "task " + std::to_string(t.id) + ": " + written.message());
    return written.ok();
  }

  void enqueue(const task_record& t) { queue.emplace(-int(t.priority), t.id); }
};

using manager_actor = counted<task_manager_actor::stateful_base<manager_state>>;

/// Copies the final state of `t` into outcome `i`.
void fill_outcome(task_outcomes& out, size_t i, const task_record& t);

/// The same for a task about to be forgotten: its result and error move into the outcome.
void fill_outcome(task_outcomes& out, size_t i, task_record&& t);

/// A task reached a final state: count it, tell its waiters, forget it.
void finish(manager_state& st, task_record& t, task_state from);

/// Writes the transitions gathered since the last flush (group commit), then acts on them.
void flush(manager_actor* self);

/// Starts queued tasks on executors with room, highest priority first.
void dispatch(manager_actor* self);

/// The cluster's peers changed: update the executors, re-queue what ran on peers now gone.
void peers_changed(manager_actor* self, const std::vector<member_info>& infos, const std::vector<caf::actor>& nodes);

} // namespace p2p::task_manager_detail
