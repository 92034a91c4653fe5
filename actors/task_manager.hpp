#pragma once
// task_manager: owns the tasks submitted at this node. Every state change of a task submitted to
// run later (task_atom) is written to RocksDB before it is acknowledged; a task whose submitter
// waits for its end (task_submit_wait_atom) is held in memory only, its answer being its
// acknowledgement. Tasks run on the node's text workers by priority, least-loaded
// worker first; failures are retried up to max_retries, a task past its timeout is timed out;
// on start, queued and running tasks come back (running ones re-queued, the attempt counted).

#include <memory>
#include <vector>

#include <caf/fwd.hpp>

#include "protocol/interfaces.hpp"

#include "config/node_config.hpp"

namespace p2p {

class database;

task_manager_actor spawn_task_manager(caf::event_based_actor* parent, const node_config& cfg, std::shared_ptr<database> db,
                              std::vector<caf::actor> workers);

} // namespace p2p
