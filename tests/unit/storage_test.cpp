#include <doctest/doctest.h>

#include <cstring>

#include "storage/database.hpp"
#include "storage/vector_keys.hpp"
#include "tests/support/data.hpp"

using namespace p2p;

TEST_CASE("vector keys round-trip and group by shard") {
  auto key = vector_key(258, "docs", "id#1");
  vector_key_parts parts;
  REQUIRE(parse_vector_key(key, parts));
  CHECK(parts.shard == 258);
  CHECK(parts.collection == "docs");
  CHECK(parts.id == "id#1");
  CHECK(key.rfind(shard_prefix(258), 0) == 0);
  CHECK_FALSE(parse_vector_key("ab", parts));
}

TEST_CASE("what a batch wrote is there after the database is closed and reopened") {
  auto dir = test::fresh_dir("storage-roundtrip");
  auto values = test::random_vectors(100, 16, 1);
  std::string error;
  {
    auto db = database::open(dir, durability_mode::wal, error);
    REQUIRE_MESSAGE(db, error);
    rocksdb::WriteBatch wb;
    for (int i = 0; i < 100; ++i)
      wb.Put(db->cf(column::vectors), vector_key(uint16_t(i % 3), "c", std::to_string(i)),
             rocksdb::Slice(reinterpret_cast<const char*>(&values[i * 16]), 64));
    REQUIRE(db->write(wb).ok());
  }
  auto db = database::open(dir, durability_mode::fsync, error);
  REQUIRE_MESSAGE(db, error);
  std::string value;
  REQUIRE(db->get(column::vectors, vector_key(1, "c", "7"), &value).ok());
  REQUIRE(value.size() == 64);
  CHECK(std::memcmp(value.data(), &values[7 * 16], 64) == 0);
  CHECK(db->get(column::vectors, vector_key(0, "c", "7"), &value).IsNotFound());
  size_t in_shard_1 = 0;
  db->scan(column::vectors, shard_prefix(1), [&](std::string_view key, std::string_view) {
    vector_key_parts parts;
    REQUIRE(parse_vector_key(key, parts));
    CHECK(parts.shard == 1);
    CHECK(std::stoi(std::string(parts.id)) % 3 == 1);
    ++in_shard_1;
  });
  CHECK(in_shard_1 == 33);
}

TEST_CASE("a second open of the same data dir is refused with a hint") {
  auto dir = test::fresh_dir("storage-lock");
  std::string error;
  auto first = database::open(dir, durability_mode::wal, error);
  REQUIRE(first);
  auto second = database::open(dir, durability_mode::wal, error);
  CHECK_FALSE(second);
  CHECK(error.find("is a node already running on it?") != std::string::npos);
}

#include "storage/task_store.hpp"

TEST_CASE("the task store reads back every task in id order, unfinished ones with their payload") {
  auto dir = test::fresh_dir("storage-tasks");
  std::string error;
  {
    std::shared_ptr<database> db = database::open(dir, durability_mode::wal, error);
    REQUIRE_MESSAGE(db, error);
    task_store store(db);
    std::vector<task_record> tasks(3);
    for (uint64_t i = 0; i < 3; ++i) {
      tasks[i].id = i + 1;
      tasks[i].type = "text_processing";
      tasks[i].payload = "document " + std::to_string(i + 1);
    }
    CHECK(store.add(tasks).ok());
    REQUIRE(transition(tasks[1], task_state::running, 10));
    REQUIRE(transition(tasks[1], task_state::completed, 20));
    tasks[1].result = "{\"words\": 2}";
    CHECK(store.update(tasks[1]).ok());
    auto done = store.get(2);
    REQUIRE(done);
    CHECK(done->state == task_state::completed);
    CHECK(done->result == "{\"words\": 2}");
    CHECK(done->payload.empty()); // get reads the record only
    CHECK_FALSE(store.get(9));
  }
  std::shared_ptr<database> db = database::open(dir, durability_mode::wal, error);
  REQUIRE_MESSAGE(db, error);
  std::vector<task_record> seen;
  CHECK(task_store(db).scan([&](task_record&& t) { seen.push_back(std::move(t)); }) == 0);
  REQUIRE(seen.size() == 3);
  CHECK(seen[0].id == 1);
  CHECK(seen[0].payload == "document 1");
  CHECK(seen[1].state == task_state::completed);
  CHECK(seen[2].id == 3);
  CHECK(seen[2].payload == "document 3");
}

#include "storage/collection_catalog.hpp"

TEST_CASE("the collection catalog keeps each collection's dimension and metric across a reopen") {
  auto dir = test::fresh_dir("storage-collections");
  std::string error;
  {
    std::shared_ptr<database> db = database::open(dir, durability_mode::wal, error);
    REQUIRE_MESSAGE(db, error);
    collection_catalog catalog(db);
    CHECK(catalog.put({"docs", 384, metric_kind::ip}).ok());
    CHECK(catalog.put({"images", 512, metric_kind::l2}).ok());
  }
  std::shared_ptr<database> db = database::open(dir, durability_mode::wal, error);
  REQUIRE_MESSAGE(db, error);
  std::vector<collection_record> seen;
  CHECK(collection_catalog(db).load([&](collection_record&& c) { seen.push_back(std::move(c)); }) == 0);
  REQUIRE(seen.size() == 2);
  CHECK(seen[0].name == "docs");
  CHECK(seen[0].dim == 384);
  CHECK(seen[0].metric == metric_kind::ip);
  CHECK(seen[1].name == "images");
  CHECK(seen[1].metric == metric_kind::l2);
}

#include "storage/vector_store.hpp"

TEST_CASE("a shard's vector store writes rows with versions, reads and scans them, and erases to tombstones, apart from other shards") {
  auto dir = test::fresh_dir("storage-vector-store");
  std::string error;
  std::shared_ptr<database> db = database::open(dir, durability_mode::wal, error);
  REQUIRE_MESSAGE(db, error);
  vector_store shard0(db, 0), shard1(db, 1);
  std::vector<std::string> ids{"a", "b", "c"};
  std::vector<float> values{1, 2, 3, 4, 5, 6};
  std::vector<uint64_t> versions{7, 8, 9};
  CHECK(shard0.put("docs", 2, ids, values.data(), {"{\"n\": 1}", "", "{\"n\": 3}"}, versions, {0, 1, 2}).ok());
  CHECK(shard1.put("docs", 2, ids, values.data(), {}, versions, {1}).ok());
  std::vector<float> got;
  std::string meta;
  REQUIRE(shard0.get("docs", 2, "c", got, meta).ok());
  CHECK(got == std::vector<float>{5, 6});
  CHECK(meta == "{\"n\": 3}");
  auto missing = shard0.get("docs", 2, "zz", got, meta);
  CHECK(missing.code() == errc::not_found);
  CHECK(shard1.get("docs", 2, "a", got, meta).code() == errc::not_found); // shard 1 holds "b" only

  std::vector<std::string> seen;
  CHECK(shard0.scan([&](std::string_view collection, std::string_view id, std::string_view) {
    CHECK(collection == "docs");
    seen.emplace_back(id);
    return true;
  }) == 0);
  CHECK(seen == std::vector<std::string>{"a", "b", "c"});

  // An erase leaves a tombstone with its version; a drop leaves nothing.
  CHECK(shard0.erase("docs", {"a", "never-there"}, {20, 21}).ok());
  CHECK(shard0.drop("docs", {"b"}).ok());
  CHECK(shard0.get("docs", 2, "a", got, meta).code() == errc::not_found);
  CHECK(shard0.get("docs", 2, "b", got, meta).code() == errc::not_found);
  std::vector<std::string> entries;
  CHECK(shard0.scan_versions([&](std::string_view collection, std::string_view id, uint64_t version, bool tombstone) {
    entries.push_back(std::string(collection) + "/" + std::string(id) + "@" + std::to_string(version)
                      + (tombstone ? " deleted" : ""));
  }) == 0);
  CHECK(entries == std::vector<std::string>{"docs/a@20 deleted", "docs/c@9", "docs/never-there@21 deleted"});
  entries.clear();
  CHECK(shard1.scan_versions([&](std::string_view, std::string_view id, uint64_t version, bool tombstone) {
    entries.push_back(std::string(id) + "@" + std::to_string(version) + (tombstone ? " deleted" : ""));
  }) == 0);
  CHECK(entries == std::vector<std::string>{"b@8"});
  float row[2];
  std::string_view m;
  CHECK_FALSE(vector_store::decode_row("abc", 2, row, m));
}
