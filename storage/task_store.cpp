#include "storage/task_store.hpp"

#include <rocksdb/write_batch.h>

#include "storage/database.hpp"

namespace p2p {

namespace {

status written(const rocksdb::Status& s) {
  return s.ok() ? status{} : status{errc::storage_failure, "storage write failed: " + s.ToString()};
}

/// Writes `wb` unless it is empty (only tasks held in memory).
status write_unless_empty(database& db, rocksdb::WriteBatch& wb) {
  return wb.Count() == 0 ? status{} : written(db.write(wb));
}

} // namespace

task_store::task_store(std::shared_ptr<database> db) : db_(std::move(db)) {}

status task_store::add(const std::vector<task_record>& tasks) {
  rocksdb::WriteBatch wb;
  for (auto& t : tasks) {
    if (!t.durable)
      continue;
    wb.Put(db_->cf(column::tasks), task_key(t.id), encode(t));
    wb.Put(db_->cf(column::tasks), payload_key(t.id), t.payload);
  }
  return write_unless_empty(*db_, wb);
}

status task_store::update(const std::vector<const task_record*>& tasks) {
  rocksdb::WriteBatch wb;
  for (auto* t : tasks)
    if (t->durable)
      wb.Put(db_->cf(column::tasks), task_key(t->id), encode(*t));
  return write_unless_empty(*db_, wb);
}

std::optional<task_record> task_store::get(uint64_t id) const {
  std::string bytes;
  task_record t;
  if (!db_->get(column::tasks, task_key(id), &bytes).ok() || !decode(bytes, t))
    return std::nullopt;
  return t;
}

size_t task_store::scan(const std::function<void(task_record&&)>& fn) const {
  size_t unreadable = 0;
  std::optional<task_record> pending; // an unfinished task, waiting for its payload key
  auto hand_over = [&] {
    if (pending)
      fn(std::move(*pending));
    pending.reset();
  };
  db_->scan(column::tasks, "", [&](std::string_view key, std::string_view value) {
    uint64_t id = 0;
    bool is_payload = false;
    if (!parse_task_key(key, id, is_payload)) {
      ++unreadable;
      return;
    }
    if (is_payload) {
      if (pending && pending->id == id)
        pending->payload = std::string(value);
      hand_over();
      return;
    }
    hand_over();
    task_record t;
    if (!decode(value, t)) {
      ++unreadable;
      return;
    }
    if (is_final(t.state))
      fn(std::move(t));
    else
      pending = std::move(t);
  });
  hand_over();
  return unreadable;
}

} // namespace p2p
