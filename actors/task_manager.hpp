#pragma once
// task_manager: owns the tasks submitted at this node. Every state change of a task submitted to
// run later (task_atom) is written to RocksDB before it is acknowledged; a task whose submitter
// waits for its end (task_submit_wait_atom) is held in memory only, its answer being its
// acknowledgement. Tasks run on the node's text workers by priority, least-loaded
// worker first; failures are retried up to max_retries, a task past its timeout is timed out;
// on start, queued and running tasks come back (running ones re-queued, the attempt counted).

#include <array>
#include <atomic>
#include <memory>
#include <vector>

#include <caf/fwd.hpp>

#include "protocol/interfaces.hpp"

#include "config/node_config.hpp"
#include "tasks/task.hpp"

namespace p2p {

class database;

/// Tasks in each state (task_state order), every type together: kept current by the task manager
/// at each change and read by status from any thread without asking it. Exact once the manager
/// is idle; while tasks move, a task may briefly count in neither of two states or in both.
struct task_totals {
  std::array<std::atomic<uint64_t>, task_state_count> counts{};
  [[nodiscard]] std::vector<uint64_t> read() const {
    std::vector<uint64_t> out;
    for (auto& c : counts)
      out.push_back(c.load(std::memory_order_relaxed));
    return out;
  }
};

/// Spawns the task manager linked to `parent`; it keeps `totals` current (its own when none is given).
task_manager_actor spawn_task_manager(caf::event_based_actor* parent, const node_config& cfg, std::shared_ptr<database> db,
                              std::vector<caf::actor> workers, std::shared_ptr<task_totals> totals = nullptr);

} // namespace p2p
