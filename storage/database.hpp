#pragma once
// One RocksDB per node, with a column family per kind of record. Writes are WriteBatches:
// acknowledged = in the WAL (durability wal), or synced to disk (durability fsync).

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include "core/status.hpp"
#include "storage/durability.hpp"

namespace p2p {

/// vectors: key of storage/vector_keys.hpp -> dim float32 values followed by the metadata JSON.
/// collections: name -> collection record. tasks: reserved for the task manager.
/// versions: the same key as vectors -> 8 bytes version (little-endian) + 1 byte tombstone flag;
/// a tombstone has a versions entry and no vectors entry.
enum class column : uint8_t { vectors = 0, collections, tasks, versions };

class database {
public:
  ~database();

  /// Opens (creating if needed) the database in `dir`; null with `error` set on failure.
  static std::unique_ptr<database> open(const std::string& dir, durability_mode mode, std::string& error);

  /// The options every column family uses; the raw-RocksDB benchmark uses them too.
  static rocksdb::ColumnFamilyOptions column_options();
  static rocksdb::DBOptions db_options();

  [[nodiscard]] rocksdb::ColumnFamilyHandle* cf(column c) const { return handles_[size_t(c)]; }

  /// Applies a batch atomically with the node's durability.
  /// Writes `batch` with the node's durability. With `no_stall`, a write that RocksDB would hold
  /// back (memtables full while a flush catches up, or slowed for compaction debt) fails at once
  /// with Status::Incomplete instead of blocking the calling thread.
  [[nodiscard]] rocksdb::Status write(rocksdb::WriteBatch& batch, bool no_stall = false);

  [[nodiscard]] rocksdb::Status get(column c, std::string_view key, std::string* value) const;

  /// Calls `fn(key, value)` for each key starting with `prefix`, in key order.
  void scan(column c, std::string_view prefix,
            const std::function<void(std::string_view key, std::string_view value)>& fn) const;

  /// Like scan, from the first key after `after` (or the prefix start when empty), for as long
  /// as `fn` returns true. Returns true when it reached the end of the prefix.
  bool scan_after(column c, std::string_view prefix, std::string_view after,
                  const std::function<bool(std::string_view key, std::string_view value)>& fn) const;

  /// A consistent copy of the database in `dir` (which must not exist), as of now: RocksDB's
  /// checkpoint (hard links to the table files where the file system allows, the WAL copied).
  status checkpoint(const std::string& dir);

  /// Makes everything written so far durable on disk (WAL synced, memtables flushed).
  status flush();

  [[nodiscard]] const std::string& dir() const { return dir_; }
  /// A RocksDB integer property summed over the column families (e.g. "rocksdb.total-sst-files-size").
  [[nodiscard]] uint64_t property(const std::string& name) const;

  /// Stops and resumes RocksDB's flushes and compactions (tests use it to make writes stall).
  status pause_background_work();
  status continue_background_work();

  /// The sequence number of the last write.
  [[nodiscard]] uint64_t sequence() const { return db_->GetLatestSequenceNumber(); }

private:
  database() = default;
  std::string dir_;
  rocksdb::WriteOptions write_options_;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
};

} // namespace p2p
