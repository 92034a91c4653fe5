#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>

#include "tests/support/data.hpp"
#include "vectors/vector_io.hpp"

using namespace p2p;

namespace {

/// Reads the whole file in batches of 3; returns the rows and the reader's error.
std::pair<vector_rows, std::string> read_all(const std::string& path) {
  std::string error;
  auto reader = vector_reader::open(path, error);
  if (!reader)
    return {{}, error};
  vector_rows rows;
  while (reader->next(3, rows)) {
  }
  return {rows, reader->error()};
}

void write_text(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

} // namespace

TEST_CASE("fvecs rows come back with their row index as id") {
  auto dir = test::fresh_dir("io-fvecs");
  auto values = test::random_vectors(10, 8, 2);
  REQUIRE(write_fvecs(dir + "/v.fvecs", values.data(), 10, 8));
  auto [rows, error] = read_all(dir + "/v.fvecs");
  CHECK(error.empty());
  REQUIRE(rows.size() == 10);
  CHECK(rows.dim == 8);
  CHECK(rows.ids[9] == "9");
  CHECK(rows.values == values);
}

TEST_CASE("a truncated fvecs row is named and the rows before it are kept") {
  auto dir = test::fresh_dir("io-truncated");
  auto values = test::random_vectors(5, 8, 2);
  REQUIRE(write_fvecs(dir + "/v.fvecs", values.data(), 5, 8));
  std::filesystem::resize_file(dir + "/v.fvecs", 4 * 36 + 20);
  auto [rows, error] = read_all(dir + "/v.fvecs");
  CHECK(rows.size() == 4);
  CHECK(error == dir + "/v.fvecs: row 4: truncated (16 of 32 value bytes)");
}

TEST_CASE("fvecs rows of another dimension, NaN or infinity are refused by row") {
  auto dir = test::fresh_dir("io-bad-rows");
  auto values = test::random_vectors(4, 8, 2);
  REQUIRE(write_fvecs(dir + "/a.fvecs", values.data(), 3, 8));
  {
    std::ofstream out(dir + "/a.fvecs", std::ios::app | std::ios::binary);
    int32_t d = 4;
    out.write(reinterpret_cast<char*>(&d), 4);
    out.write(reinterpret_cast<char*>(values.data()), 16);
  }
  CHECK(read_all(dir + "/a.fvecs").second == dir + "/a.fvecs: row 3: dimension 4, expected 8 as in row 0");
  values[2 * 8 + 5] = std::numeric_limits<float>::quiet_NaN();
  REQUIRE(write_fvecs(dir + "/b.fvecs", values.data(), 4, 8));
  auto [rows, error] = read_all(dir + "/b.fvecs");
  CHECK(rows.size() == 2);
  CHECK(error == dir + "/b.fvecs: row 2: value 5 is NaN");
  values[2 * 8 + 5] = std::numeric_limits<float>::infinity();
  REQUIRE(write_fvecs(dir + "/c.fvecs", values.data(), 4, 8));
  CHECK(read_all(dir + "/c.fvecs").second == dir + "/c.fvecs: row 2: value 5 is infinite");
}

TEST_CASE("empty, missing and unknown files are refused by name") {
  auto dir = test::fresh_dir("io-files");
  write_text(dir + "/e.fvecs", "");
  write_text(dir + "/e.jsonl", "\n\n");
  CHECK(read_all(dir + "/e.fvecs").second == dir + "/e.fvecs: empty file, no vectors");
  CHECK(read_all(dir + "/e.jsonl").second == dir + "/e.jsonl: empty file, no vectors");
  CHECK(read_all(dir + "/missing.fvecs").second == dir + "/missing.fvecs: no such file");
  write_text(dir + "/v.csv", "1,2");
  CHECK(read_all(dir + "/v.csv").second.find("unknown vector format '.csv'") != std::string::npos);
}

TEST_CASE("JSON Lines carry ids, vectors and metadata") {
  auto dir = test::fresh_dir("io-jsonl");
  write_text(dir + "/v.jsonl", R"({"id": "a", "vector": [1, 2.5, -3], "metadata": {"lang": "en", "n": [1, 2]}}

{"id": 17, "vector": [0, 0, 1]}
{"vector": [1, 1, 1]}
)");
  auto [rows, error] = read_all(dir + "/v.jsonl");
  CHECK(error.empty());
  REQUIRE(rows.size() == 3);
  CHECK(rows.dim == 3);
  CHECK(rows.ids == std::vector<std::string>{"a", "17", "2"});
  CHECK(rows.values == std::vector<float>{1, 2.5, -3, 0, 0, 1, 1, 1, 1});
  CHECK(rows.metadata[0] == R"({"lang":"en","n":[1,2]})");
  CHECK(rows.metadata[1].empty());
}

TEST_CASE("an invalid JSON line is refused by line number, earlier lines kept") {
  auto dir = test::fresh_dir("io-jsonl-bad");
  auto path = dir + "/v.jsonl";
  auto check = [&](const std::string& bad_line, const std::string& expected) {
    write_text(path, "{\"id\": \"a\", \"vector\": [1, 2]}\n" + bad_line + "\n{\"id\": \"c\", \"vector\": [1, 2]}\n");
    auto [rows, error] = read_all(path);
    CHECK(rows.size() == 1);
    CHECK(error == path + ": line 2: " + expected);
  };
  check("{\"id\": \"b\", \"vector\": [1, 2", "invalid JSON (The JSON document has an improper structure: missing or "
                                            "superfluous commas, braces, missing keys, etc.)");
  check("{\"id\": \"b\", \"vector\": [1, 2, 3]}", "dimension 3, expected 2 as in the first row");
  check("{\"id\": \"b\", \"vector\": [1, \"x\"]}", "\"vector\"[1] is not a number");
  check("{\"id\": \"b\", \"vector\": [1, 1e39]}", "value 1 is infinite");
  check("{\"id\": \"b\", \"vec\": [1, 2]}", "unknown key \"vec\" (expected id, vector, metadata)");
  check("{\"id\": \"b\"}", "missing \"vector\"");
  check("[1, 2]", "expected a JSON object");
  check("{\"id\": \"b\", \"vector\": [1, 2], \"metadata\": 5}", "\"metadata\" must be an object");
}

TEST_CASE("an fvecs reader knows its total row count once it has read the first row; JSON Lines do not") {
  auto dir = test::fresh_dir("vector-io-total");
  auto values = test::random_vectors(37, 5, 3);
  REQUIRE(write_fvecs(dir + "/v.fvecs", values.data(), 37, 5));
  std::string error;
  auto reader = vector_reader::open(dir + "/v.fvecs", error);
  REQUIRE_MESSAGE(reader, error);
  CHECK(reader->rows_total() == 0);
  vector_rows rows;
  reader->next(10, rows);
  CHECK(reader->rows_total() == 37);
  std::ofstream(dir + "/v.jsonl") << "{\"vector\": [1, 2]}\n{\"vector\": [3, 4]}\n";
  auto jsonl = vector_reader::open(dir + "/v.jsonl", error);
  REQUIRE_MESSAGE(jsonl, error);
  rows.clear();
  jsonl->next(10, rows);
  CHECK(jsonl->rows_total() == 0);
}
