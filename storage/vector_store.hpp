#pragma once
// One shard's vectors in the vectors column family, written and read here only: key
// vector_key(shard, collection, id) -> dim float32 values, then the metadata JSON; and each key's
// version in the versions column family (a delete leaves a versioned tombstone there). Both are
// written in one WriteBatch. Actors see floats, ids and status, never a RocksDB type.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.hpp"

namespace p2p {

class database;

class vector_store {
public:
  vector_store(std::shared_ptr<database> db, uint16_t shard);
  ~vector_store();
  vector_store(vector_store&&) noexcept;
  vector_store& operator=(vector_store&&) noexcept;

  /// Rows `rows` of a batch (ids, values: dim floats per id, metadata: empty or one per id,
  /// versions: one per id), written in one atomic batch with the node's durability. With
  /// `no_stall`, a write RocksDB would hold back fails at once with errc::busy and writes nothing.
  status put(std::string_view collection, uint32_t dim, const std::vector<std::string>& ids, const float* values,
             const std::vector<std::string>& metadata, const std::vector<uint64_t>& versions,
             const std::vector<uint32_t>& rows, bool no_stall = false);

  /// The values and metadata of one id; errc::not_found when absent.
  status get(std::string_view collection, uint32_t dim, std::string_view id, std::vector<float>& values,
             std::string& metadata) const;

  /// Deletes ids, leaving a tombstone of each one's version, in one atomic batch.
  status erase(std::string_view collection, const std::vector<std::string>& ids, const std::vector<uint64_t>& versions);

  /// Removes ids and their versions altogether (handed to their owners), in one atomic batch.
  status drop(std::string_view collection, const std::vector<std::string>& ids);

  /// Removes every row and version of `collection` in this shard (range deletes).
  status drop_collection(std::string_view collection);

  /// Every version entry of this shard: (collection, id, version, tombstone), in key order; the
  /// count of entries that are not of this layout.
  using version_fn = std::function<void(std::string_view collection, std::string_view id, uint64_t version, bool tombstone)>;
  size_t scan_versions(const version_fn& fn) const;
  /// The same for one collection only.
  size_t scan_versions(std::string_view collection, const version_fn& fn) const;

  /// A stored row: its collection, id and bytes (values then metadata; see decode_row).
  using row_fn = std::function<bool(std::string_view collection, std::string_view id, std::string_view row)>;

  /// Every row of this shard, in key order, while `fn` returns true; the count of keys that are
  /// not of this layout.
  size_t scan(const row_fn& fn) const;
  /// The same for one collection only.
  size_t scan(std::string_view collection, const row_fn& fn) const;

  /// Splits a row into `dim` floats (copied: values may be unaligned) and its metadata; false
  /// when the row is shorter than dim floats.
  [[nodiscard]] static bool decode_row(std::string_view row, uint32_t dim, float* values, std::string_view& metadata);

  /// The metadata of a row only (no values copied); false when the row is shorter than dim floats.
  [[nodiscard]] static bool metadata_of(std::string_view row, uint32_t dim, std::string_view& metadata);

private:
  size_t scan_prefix(const std::string& prefix, const row_fn& fn) const;
  size_t scan_versions_prefix(const std::string& prefix, const version_fn& fn) const;
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace p2p
