#include "storage/task_store.hpp"

#include <rocksdb/write_batch.h>

#include "storage/database.hpp"

namespace p2p {

namespace {

status written(const rocksdb::Status& s) {
  return s.ok() ? status{} : status{errc::storage_failure, "storage write failed: " + s.ToString()};
}

} // namespace

task_store::task_store(std::shared_ptr<database> db) : db_(std::move(db)) {}

status task_store::add(const std::vector<task_record>& tasks) {
  rocksdb::WriteBatch wb;
  for (auto& t : tasks) {
    wb.Put(db_->cf(column::tasks), task_key(t.id), encode(t));
    wb.Put(db_->cf(column::tasks), payload_key(t.id), t.payload);
  }
  return written(db_->write(wb));
}

status task_store::update(const std::vector<const task_record*>& tasks) {
  rocksdb::WriteBatch wb;
  for (auto* t : tasks)
    wb.Put(db_->cf(column::tasks), task_key(t->id), encode(*t));
  return written(db_->write(wb));
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
