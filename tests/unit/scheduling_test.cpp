#include <doctest/doctest.h>

#include <map>
#include <string>

#include "tasks/scheduling.hpp"

using namespace p2p;

namespace {

executor_slot slot(size_t load, size_t capacity, std::vector<std::string> caps = {"text_processing", "embedding"}) {
  return executor_slot{load, capacity, std::move(caps)};
}

} // namespace

TEST_CASE("a task goes to the least filled executor that runs its type") {
  std::map<std::string, executor_slot> e{{"local/0", slot(8, 16)}, {"local/1", slot(2, 16)}, {"peer/b", slot(10, 32)}};
  auto* where = least_loaded(e, "text_processing");
  REQUIRE(where != nullptr);
  CHECK(*where == "local/1");
}

TEST_CASE("fill is load over capacity: a bigger executor with more tasks can be the emptier one") {
  std::map<std::string, executor_slot> e{{"local/0", slot(4, 16)}, {"peer/b", slot(6, 32)}};
  CHECK(*least_loaded(e, "embedding") == "peer/b");
}

TEST_CASE("executors without the capability or without room are never chosen") {
  std::map<std::string, executor_slot> e{{"local/0", slot(16, 16)},
                                         {"peer/b", slot(0, 32, {"embedding"})},
                                         {"peer/c", slot(31, 32)}};
  CHECK(*least_loaded(e, "text_processing") == "peer/c");
  e["peer/c"].load = 32;
  CHECK(least_loaded(e, "text_processing") == nullptr);
  CHECK(*least_loaded(e, "embedding") == "peer/b");
  CHECK(least_loaded(e, "custom") == nullptr);
}

TEST_CASE("on equal fill the first executor in key order wins, and none is chosen from an empty set") {
  std::map<std::string, executor_slot> e{{"local/1", slot(2, 16)}, {"local/0", slot(2, 16)}};
  CHECK(*least_loaded(e, "embedding") == "local/0");
  CHECK(least_loaded(std::map<std::string, executor_slot>{}, "embedding") == nullptr);
}
