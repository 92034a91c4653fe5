#pragma once
// task_manager: owns the tasks submitted at this node. Every state change of a task submitted to
// run later (task_atom) is written to RocksDB before it is acknowledged; a task whose submitter
// waits for its end (task_submit_wait_atom) is held in memory only, its answer being its
// acknowledgement. Tasks run on the node's text workers by priority, least-loaded
// worker first; failures are retried up to max_retries, a task past its timeout is timed out;
// on start, queued and running tasks come back (running ones re-queued, the attempt counted).

#include <array>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <caf/fwd.hpp>

#include "protocol/interfaces.hpp"

#include "config/node_config.hpp"
#include "tasks/task.hpp"

namespace p2p {

class database;

/// What status and /metrics show of the tasks, kept current by the task manager at each change and
/// read from any thread without asking it: a task manager waits for a scheduler thread behind the
/// node's data like any actor, and asking it held /metrics 0.1 s at the median during a put
/// (perf/README.md, nineteenth session). Everything is under one mutex, which only the task
/// manager and a reader ever take.
class task_board {
public:
  /// `n` tasks of `type` are now in state `s` (new, or loaded at a start).
  void add(const std::string& type, task_state s, uint64_t n = 1) {
    std::lock_guard<std::mutex> lock(mutex_);
    by_type_[type][size_t(s)] += n;
  }
  /// A task of `type` went from `from` to `to`.
  void move(const std::string& type, task_state from, task_state to) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto& counts = by_type_[type];
    --counts[size_t(from)];
    ++counts[size_t(to)];
  }
  /// A task reached its final state `seconds` after it was submitted.
  void observe(double seconds) {
    std::lock_guard<std::mutex> lock(mutex_);
    latency_.observe(seconds);
  }
  /// `tasks` sent to `executor` ("local/N" or "peer/ID") are not answered yet; 0 forgets it.
  void in_flight(const std::string& executor, uint64_t tasks) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (tasks == 0)
      in_flight_.erase(executor);
    else
      in_flight_[executor] = tasks;
  }
  /// The peers that run tasks now, by id: each shows in metrics(), with 0 in flight when none.
  void executors(std::vector<std::string> peers) {
    std::lock_guard<std::mutex> lock(mutex_);
    peers_ = std::move(peers);
  }

  /// Tasks in each state (task_state order), every type together.
  [[nodiscard]] std::vector<uint64_t> totals() const {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<uint64_t> out(task_state_count, 0);
    for (auto& [_, counts] : by_type_)
      for (size_t s = 0; s < task_state_count; ++s)
        out[s] += counts[s];
    return out;
  }

  /// Tasks by type and state, the latency of finished tasks, and the tasks in flight: "local"
  /// (this node's workers together) first, then each peer that runs tasks, by id.
  [[nodiscard]] task_metrics metrics() const {
    std::lock_guard<std::mutex> lock(mutex_);
    task_metrics m;
    for (auto& [type, counts] : by_type_) {
      m.types.push_back(type);
      m.counts.insert(m.counts.end(), counts.begin(), counts.end());
    }
    m.latency = latency_;
    m.executors.push_back("local");
    m.in_flight.push_back(0);
    for (auto& [key, tasks] : in_flight_)
      if (key.rfind("local/", 0) == 0)
        m.in_flight.front() += tasks;
    for (auto& peer : peers_) {
      m.executors.push_back(peer);
      auto it = in_flight_.find("peer/" + peer);
      m.in_flight.push_back(it == in_flight_.end() ? 0 : it->second);
    }
    return m;
  }

private:
  mutable std::mutex mutex_;
  std::map<std::string, std::array<uint64_t, task_state_count>> by_type_;
  latency_histogram latency_;
  std::map<std::string, uint64_t> in_flight_; // executor key -> tasks sent and not answered
  std::vector<std::string> peers_;            // peers that run tasks, by id
};

/// Where an actor runs: a thread of its own (what a node does), or CAF's scheduler (the actor
/// tests, whose test coordinator runs every actor step by step on the test's thread).
enum class actor_thread { own, scheduler };

/// Spawns the task manager linked to `parent`; it keeps `board` current (its own when none is given).
/// On a thread of its own by default: on CAF's scheduler it waited behind the shards at each
/// answer it took, while they built a graph (tasks at 2-4 % of the raw embedder then, 28-32 % on
/// threads of their own, perf/README.md, nineteenth session).
task_manager_actor spawn_task_manager(caf::event_based_actor* parent, const node_config& cfg, std::shared_ptr<database> db,
                              std::vector<caf::actor> workers, std::shared_ptr<task_board> board = nullptr,
                              actor_thread thread = actor_thread::own);

} // namespace p2p
