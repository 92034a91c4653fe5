#include "storage/database.hpp"

#include <filesystem>

#include <rocksdb/table.h>
#include <rocksdb/utilities/checkpoint.h>

namespace p2p {

namespace {

const char* const column_names[] = {"vectors", "collections", "tasks", "versions"};

} // namespace

rocksdb::ColumnFamilyOptions database::column_options() {
  rocksdb::ColumnFamilyOptions o;
  // A bounded memtable keeps resident memory per stored vector low; values are raw floats,
  // which do not compress.
  o.write_buffer_size = 16 << 20;
  o.max_write_buffer_number = 3;
  o.compression = rocksdb::kNoCompression;
  rocksdb::BlockBasedTableOptions table;
  table.block_size = 16 << 10;
  o.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  return o;
}

rocksdb::DBOptions database::db_options() {
  rocksdb::DBOptions o;
  o.create_if_missing = true;
  o.create_missing_column_families = true;
  o.max_background_jobs = 2;
  o.keep_log_file_num = 4;
  return o;
}

std::unique_ptr<database> database::open(const std::string& dir, durability_mode mode, std::string& error) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    error = "data dir '" + dir + "': " + ec.message();
    return nullptr;
  }
  std::vector<rocksdb::ColumnFamilyDescriptor> families;
  families.emplace_back(rocksdb::kDefaultColumnFamilyName, column_options());
  for (auto* name : column_names)
    families.emplace_back(name, column_options());
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  auto st = rocksdb::DB::Open(db_options(), dir, families, &handles, &raw);
  if (!st.ok()) {
    error = "data dir '" + dir + "': " + st.ToString();
    if (st.IsIOError() && st.ToString().find("lock") != std::string::npos)
      error += " (is a node already running on it? use --peer H:P to talk to it)";
    return nullptr;
  }
  std::unique_ptr<database> db(new database);
  db->dir_ = dir;
  db->db_.reset(raw);
  db->write_options_.sync = mode == durability_mode::fsync;
  // handles[0] is the default family; ours follow in column order.
  db->handles_.assign(handles.begin() + 1, handles.end());
  raw->DestroyColumnFamilyHandle(handles[0]);
  return db;
}

database::~database() {
  if (!db_)
    return;
  (void) db_->FlushWAL(true);
  for (auto* h : handles_)
    db_->DestroyColumnFamilyHandle(h);
  db_->Close();
}

status database::pause_background_work() {
  if (auto s = db_->PauseBackgroundWork(); !s.ok())
    return {errc::storage_failure, s.ToString()};
  return {};
}

status database::continue_background_work() {
  if (auto s = db_->ContinueBackgroundWork(); !s.ok())
    return {errc::storage_failure, s.ToString()};
  return {};
}

rocksdb::Status database::write(rocksdb::WriteBatch& batch, bool no_stall) {
  if (!no_stall)
    return db_->Write(write_options_, &batch);
  auto o = write_options_;
  o.no_slowdown = true;
  return db_->Write(o, &batch);
}

rocksdb::Status database::get(column c, std::string_view key, std::string* value) const {
  return db_->Get(rocksdb::ReadOptions(), cf(c), rocksdb::Slice(key.data(), key.size()), value);
}

void database::scan(column c, std::string_view prefix,
                    const std::function<void(std::string_view, std::string_view)>& fn) const {
  rocksdb::ReadOptions ro;
  ro.fill_cache = false;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, cf(c)));
  for (it->Seek(rocksdb::Slice(prefix.data(), prefix.size())); it->Valid(); it->Next()) {
    auto key = it->key();
    if (!key.starts_with(rocksdb::Slice(prefix.data(), prefix.size())))
      break;
    fn(std::string_view(key.data(), key.size()), std::string_view(it->value().data(), it->value().size()));
  }
}

bool database::scan_after(column c, std::string_view prefix, std::string_view after,
                          const std::function<bool(std::string_view, std::string_view)>& fn) const {
  rocksdb::ReadOptions ro;
  ro.fill_cache = false;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, cf(c)));
  rocksdb::Slice start = after.empty() ? rocksdb::Slice(prefix.data(), prefix.size())
                                       : rocksdb::Slice(after.data(), after.size());
  it->Seek(start);
  if (!after.empty() && it->Valid() && it->key() == start)
    it->Next();
  for (; it->Valid(); it->Next()) {
    auto key = it->key();
    if (!key.starts_with(rocksdb::Slice(prefix.data(), prefix.size())))
      return true;
    if (!fn(std::string_view(key.data(), key.size()), std::string_view(it->value().data(), it->value().size())))
      return false;
  }
  return true;
}

uint64_t database::property(const std::string& name) const {
  uint64_t total = 0;
  for (auto* h : handles_) {
    uint64_t v = 0;
    if (db_->GetIntProperty(h, name, &v))
      total += v;
  }
  return total;
}

status database::checkpoint(const std::string& dir) {
  rocksdb::Checkpoint* raw = nullptr;
  auto st = rocksdb::Checkpoint::Create(db_.get(), &raw);
  std::unique_ptr<rocksdb::Checkpoint> cp(raw);
  if (st.ok())
    st = cp->CreateCheckpoint(dir);
  if (!st.ok())
    return {errc::storage_failure, "snapshot to " + dir + ": " + st.ToString()};
  return {};
}

status database::flush() {
  auto st = db_->FlushWAL(true);
  if (st.ok()) {
    std::vector<rocksdb::ColumnFamilyHandle*> all(handles_.begin(), handles_.end());
    st = db_->Flush(rocksdb::FlushOptions(), all);
  }
  if (!st.ok())
    return {errc::storage_failure, "flushing storage: " + st.ToString()};
  return {};
}

} // namespace p2p
