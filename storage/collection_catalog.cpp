#include "storage/collection_catalog.hpp"

#include <cstring>

#include <rocksdb/write_batch.h>

#include "storage/database.hpp"

namespace p2p {

namespace {

/// The row: dim as 4 bytes (host order, as written since the first release), then the metric.
std::string encode(const collection_record& c) {
  std::string v(5, '\0');
  std::memcpy(v.data(), &c.dim, 4);
  v[4] = char(c.metric);
  return v;
}

} // namespace

collection_catalog::collection_catalog(std::shared_ptr<database> db) : db_(std::move(db)) {}

status collection_catalog::put(const collection_record& c) {
  rocksdb::WriteBatch wb;
  wb.Put(db_->cf(column::collections), c.name, encode(c));
  if (auto s = db_->write(wb); !s.ok())
    return {errc::storage_failure, "storage write failed: " + s.ToString()};
  return {};
}

status collection_catalog::erase(const std::string& name) {
  rocksdb::WriteBatch wb;
  wb.Delete(db_->cf(column::collections), name);
  if (auto s = db_->write(wb); !s.ok())
    return {errc::storage_failure, "storage write failed: " + s.ToString()};
  return {};
}

size_t collection_catalog::load(const std::function<void(collection_record&&)>& fn) const {
  size_t unreadable = 0;
  db_->scan(column::collections, "", [&](std::string_view key, std::string_view value) {
    if (value.size() != 5 || uint8_t(value[4]) > uint8_t(metric_kind::l2)) {
      ++unreadable;
      return;
    }
    collection_record c{std::string(key), 0, metric_kind(uint8_t(value[4]))};
    std::memcpy(&c.dim, value.data(), 4);
    fn(std::move(c));
  });
  return unreadable;
}

} // namespace p2p
