#include <doctest/doctest.h>

#include <limits>

#include "vectors/batch_rules.hpp"

using namespace p2p;

TEST_CASE("metadata up to 64 KiB is stored; past it the batch is refused naming the id and the size") {
  std::vector<std::string> ids{"a"};
  std::vector<float> values{1, 2};
  auto at_limit = "{\"t\":\"" + std::string(max_metadata_bytes - 8, 'x') + "\"}";
  REQUIRE(at_limit.size() == max_metadata_bytes);
  CHECK(check_vector_batch("c", 2, ids, values, {at_limit}).empty());
  auto over = "{\"t\":\"" + std::string(max_metadata_bytes - 7, 'x') + "\"}";
  CHECK(check_vector_batch("c", 2, ids, values, {over})
        == "id 'a': metadata of 65537 bytes, over the limit of 65536 bytes");
}

TEST_CASE("a batch is accepted whole or refused with what is wrong, naming the row or id") {
  std::vector<std::string> ids{"a", "b"};
  std::vector<float> values{1, 2, 3, 4};
  CHECK(check_vector_batch("docs", 2, ids, values, {}).empty());
  CHECK(check_vector_batch("docs", 2, ids, values, {"{\"k\": 1}", ""}).empty());
  CHECK(check_vector_batch("", 2, ids, values, {}) == "invalid collection name");
  CHECK(check_vector_batch("docs", 0, ids, values, {}) == "dimension 0");
  CHECK(check_vector_batch("docs", 2, {}, {}, {}) == "empty batch");
  CHECK(check_vector_batch("docs", 3, ids, values, {}) == "batch has 4 values for 2 ids of dimension 3");
  CHECK(check_vector_batch("docs", 2, ids, values, {"{}"}) == "batch has 1 metadata entries for 2 ids");
  CHECK(check_vector_batch("docs", 2, {"a", ""}, values, {}) == "row 1 of the batch: empty id");
  std::vector<float> nan{1, 2, 3, std::numeric_limits<float>::quiet_NaN()};
  CHECK(check_vector_batch("docs", 2, ids, nan, {}) == "id 'b': value 1 is not finite");
  CHECK(check_vector_batch("docs", 2, ids, values, {"[1]", ""}) == "id 'a': metadata is not a JSON object");
}
