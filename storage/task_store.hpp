#pragma once
// The tasks column family: every task record and payload, written and read here only. Actors
// see task_record and status, never a RocksDB type. Layout: task_key(id) -> encode(record),
// payload_key(id) -> payload (tasks/task.hpp), so a scan meets each payload after its record.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "core/status.hpp"
#include "tasks/task.hpp"

namespace p2p {

class database;

class task_store {
public:
  explicit task_store(std::shared_ptr<database> db);

  // A task that is not durable (task_record::durable) is never written: add and update skip it,
  // and write nothing at all when no task is left.

  /// Writes new tasks, record and payload, in one atomic batch.
  status add(const std::vector<task_record>& tasks);

  /// Writes the records (not the payloads) of tasks as they are now, in one atomic batch.
  status update(const std::vector<const task_record*>& tasks);
  status update(const task_record& t) { return update(std::vector<const task_record*>{&t}); }

  /// The stored record of task `id` (without its payload), if any.
  [[nodiscard]] std::optional<task_record> get(uint64_t id) const;

  /// Calls `fn` with every task in id order; unfinished tasks come with their payload. Returns
  /// the number of entries that could not be read (skipped).
  size_t scan(const std::function<void(task_record&&)>& fn) const;

private:
  std::shared_ptr<database> db_;
};

} // namespace p2p
