#include "storage/vector_store.hpp"

#include <cstring>

#include <rocksdb/write_batch.h>

#include "storage/database.hpp"
#include "storage/vector_keys.hpp"

namespace p2p {

namespace {

/// A versions entry: the version, little-endian, then 1 for a tombstone.
std::string version_value(uint64_t v, bool tombstone) {
  std::string out(9, '\0');
  for (int b = 0; b < 8; ++b)
    out[size_t(b)] = char((v >> (8 * b)) & 0xff);
  out[8] = tombstone ? 1 : 0;
  return out;
}

} // namespace

struct vector_store::impl {
  std::shared_ptr<database> db;
  uint16_t shard = 0;
  rocksdb::WriteBatch batch; // reused: its buffer keeps its capacity across puts
  std::string key, value;    // likewise

  status write(bool no_stall = false) {
    if (auto s = db->write(batch, no_stall); !s.ok()) {
      if (no_stall && s.IsIncomplete())
        return {errc::busy, "storage write stalled: " + s.ToString()};
      return {errc::storage_failure, "storage write failed: " + s.ToString()};
    }
    return {};
  }
};

vector_store::vector_store(std::shared_ptr<database> db, uint16_t shard) : impl_(std::make_unique<impl>()) {
  impl_->db = std::move(db);
  impl_->shard = shard;
}

vector_store::~vector_store() = default;
vector_store::vector_store(vector_store&&) noexcept = default;
vector_store& vector_store::operator=(vector_store&&) noexcept = default;

status vector_store::put(std::string_view collection, uint32_t dim, const std::vector<std::string>& ids,
                         const float* values, const std::vector<std::string>& metadata,
                         const std::vector<uint64_t>& versions, const std::vector<uint32_t>& rows, bool no_stall) {
  auto& s = *impl_;
  size_t row_bytes = size_t(dim) * 4;
  s.batch.Clear();
  for (uint32_t i : rows) {
    s.key = vector_key(s.shard, collection, ids[i]);
    s.value.assign(reinterpret_cast<const char*>(values + size_t(i) * dim), row_bytes);
    if (!metadata.empty())
      s.value += metadata[i];
    s.batch.Put(s.db->cf(column::vectors), s.key, s.value);
    s.batch.Put(s.db->cf(column::versions), s.key, version_value(versions[i], false));
  }
  return s.write(no_stall);
}

status vector_store::get(std::string_view collection, uint32_t dim, std::string_view id, std::vector<float>& values,
                         std::string& metadata) const {
  std::string row;
  auto s = impl_->db->get(column::vectors, vector_key(impl_->shard, collection, id), &row);
  if (s.IsNotFound())
    return {errc::not_found, "not found: no id '" + std::string(id) + "' in collection '" + std::string(collection) + "'"};
  if (!s.ok())
    return {errc::storage_failure, "storage read failed: " + s.ToString()};
  values.resize(dim);
  std::string_view meta;
  if (!decode_row(row, dim, values.data(), meta))
    return {errc::storage_failure, "unreadable row of id '" + std::string(id) + "'"};
  metadata.assign(meta);
  return {};
}

status vector_store::erase(std::string_view collection, const std::vector<std::string>& ids,
                           const std::vector<uint64_t>& versions) {
  auto& s = *impl_;
  s.batch.Clear();
  for (size_t i = 0; i < ids.size(); ++i) {
    s.key = vector_key(s.shard, collection, ids[i]);
    s.batch.Delete(s.db->cf(column::vectors), s.key);
    s.batch.Put(s.db->cf(column::versions), s.key, version_value(versions[i], true));
  }
  return s.write();
}

status vector_store::drop(std::string_view collection, const std::vector<std::string>& ids) {
  auto& s = *impl_;
  s.batch.Clear();
  for (auto& id : ids) {
    s.key = vector_key(s.shard, collection, id);
    s.batch.Delete(s.db->cf(column::vectors), s.key);
    s.batch.Delete(s.db->cf(column::versions), s.key);
  }
  return s.write();
}

status vector_store::drop_collection(std::string_view collection) {
  auto& s = *impl_;
  s.batch.Clear();
  std::string begin = vector_key(s.shard, collection, "");
  std::string end = begin;
  end.back() = '\x01'; // every key of the collection is [shard][name]\0[id]
  s.batch.DeleteRange(s.db->cf(column::vectors), begin, end);
  s.batch.DeleteRange(s.db->cf(column::versions), begin, end);
  return s.write();
}

size_t vector_store::scan_versions(const version_fn& fn) const { return scan_versions_prefix(shard_prefix(impl_->shard), fn); }

size_t vector_store::scan_versions(std::string_view collection, const version_fn& fn) const {
  return scan_versions_prefix(vector_key(impl_->shard, collection, ""), fn);
}

size_t vector_store::scan(const row_fn& fn) const { return scan_prefix(shard_prefix(impl_->shard), fn); }

size_t vector_store::scan(std::string_view collection, const row_fn& fn) const {
  return scan_prefix(vector_key(impl_->shard, collection, ""), fn);
}

size_t vector_store::scan_versions_prefix(const std::string& prefix, const version_fn& fn) const {
  size_t unreadable = 0;
  impl_->db->scan_after(column::versions, prefix, "", [&](std::string_view key, std::string_view value) {
    vector_key_parts parts;
    if (!parse_vector_key(key, parts) || value.size() != 9) {
      ++unreadable;
      return true;
    }
    uint64_t v = 0;
    for (int b = 7; b >= 0; --b)
      v = (v << 8) | uint8_t(value[size_t(b)]);
    fn(parts.collection, parts.id, v, value[8] != 0);
    return true;
  });
  return unreadable;
}

size_t vector_store::scan_prefix(const std::string& prefix, const row_fn& fn) const {
  size_t unreadable = 0;
  impl_->db->scan_after(column::vectors, prefix, "", [&](std::string_view key, std::string_view value) {
    vector_key_parts parts;
    if (!parse_vector_key(key, parts)) {
      ++unreadable;
      return true;
    }
    return fn(parts.collection, parts.id, value);
  });
  return unreadable;
}

bool vector_store::metadata_of(std::string_view row, uint32_t dim, std::string_view& metadata) {
  size_t bytes = size_t(dim) * 4;
  if (row.size() < bytes)
    return false;
  metadata = row.substr(bytes);
  return true;
}

bool vector_store::decode_row(std::string_view row, uint32_t dim, float* values, std::string_view& metadata) {
  if (!metadata_of(row, dim, metadata))
    return false;
  std::memcpy(values, row.data(), size_t(dim) * 4);
  return true;
}

} // namespace p2p
