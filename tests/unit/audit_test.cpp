// The checks the crash and cluster tests rely on must fail on what they claim to catch: one id
// lost and another doubled (the per-node counts still add up), a stored result that is not the
// kernel's, a document that became two tasks.

#include <doctest/doctest.h>

#include "storage/database.hpp"
#include "storage/task_store.hpp"
#include "tasks/task_kernels.hpp"
#include "tests/support/audit.hpp"
#include "tests/support/data.hpp"

using namespace p2p;
using namespace p2p::test;

TEST_CASE("an id lost and another doubled fail the placement audit although the counts add up") {
  std::map<std::string, std::vector<std::string>> expected{
    {"a", {"node-1"}}, {"b", {"node-1"}}, {"c", {"node-2"}}, {"d", {"node-2"}}};
  std::map<std::string, std::vector<std::string>> good{{"a", {"node-1"}}, {"b", {"node-1"}}, {"c", {"node-2"}}, {"d", {"node-2"}}};
  CHECK(audit_placement(expected, good).clean());

  // "c" lost, "a" on both nodes: node-1 holds 2 and node-2 holds 2, as before.
  std::map<std::string, std::vector<std::string>> bad{{"a", {"node-1", "node-2"}}, {"b", {"node-1"}}, {"d", {"node-2"}}};
  size_t held = 0;
  for (auto& [id, nodes] : bad)
    held += nodes.size();
  CHECK(held == expected.size());
  auto a = audit_placement(expected, bad);
  CHECK_FALSE(a.clean());
  CHECK(a.missing == 1);
  CHECK(a.doubled == 1);
  CHECK(a.misplaced == 1);
  CHECK(a.foreign == 0);

  // An id on the wrong node, and one nobody asked for.
  auto moved = good;
  moved["b"] = {"node-2"};
  moved["zz"] = {"node-1"};
  auto m = audit_placement(expected, moved);
  CHECK(m.misplaced == 1);
  CHECK(m.foreign == 1);
  CHECK(m.missing == 0);
}

TEST_CASE("with two replicas per id, a copy missing, one too many and one on the wrong node each fail the audit") {
  std::map<std::string, std::vector<std::string>> expected{
    {"a", {"node-1", "node-2"}}, {"b", {"node-2", "node-3"}}, {"c", {"node-1", "node-3"}}};
  std::map<std::string, std::vector<std::string>> good{
    {"a", {"node-2", "node-1"}}, {"b", {"node-2", "node-3"}}, {"c", {"node-3", "node-1"}}};
  CHECK(audit_placement(expected, good).clean());
  // "a" lost a copy, "b" has a third, "c" has its second copy on node-2 instead of node-3: the
  // six copies are all there by count.
  std::map<std::string, std::vector<std::string>> bad{
    {"a", {"node-1"}}, {"b", {"node-1", "node-2", "node-3"}}, {"c", {"node-1", "node-2"}}};
  auto a = audit_placement(expected, bad);
  CHECK(a.short_copies == 1);
  CHECK(a.doubled == 1);
  CHECK(a.misplaced == 3);
  CHECK(a.missing == 0);
  CHECK_FALSE(a.clean());
}

TEST_CASE("the task audit finds a wrong stored result, a result written twice and a document run as two tasks") {
  auto dir = fresh_dir("audit-tasks");
  std::vector<std::string> payloads{"alpha beta gamma 1", "delta epsilon 2", "alpha beta gamma 1"};
  std::vector<task_record> tasks;
  for (size_t i = 0; i < payloads.size(); ++i) {
    task_record t;
    t.id = i + 1;
    t.type = "text_processing";
    t.params = "200 20 10";
    t.payload = payloads[i];
    t.state = task_state::completed;
    t.attempts = 1;
    t.result_writes = 1;
    REQUIRE(run_task_kernel(t.type, t.params, t.payload, t.result).empty());
    tasks.push_back(std::move(t));
  }
  tasks[1].result = tasks[0].result; // the result of another document
  tasks[2].result_writes = 2;
  {
    std::string error;
    std::shared_ptr<database> db = database::open(dir, durability_mode::wal, error);
    REQUIRE_MESSAGE(db, error);
    REQUIRE(task_store(db).add(tasks).ok());
  }
  auto stored = read_tasks(dir);
  REQUIRE(stored.size() == 3);
  CHECK(stored[2].payload == payloads[1]);
  auto a = audit_tasks(stored, [](const task_record& t) { return t.payload; });
  CHECK(a.tasks == 3);
  CHECK(a.completed == 3);
  CHECK(a.wrong_results == 1);
  CHECK(a.not_written_once == 1);
  CHECK(a.documents.size() == 2); // three tasks, two distinct documents
}
