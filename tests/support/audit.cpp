#include "tests/support/audit.hpp"

#include <algorithm>

#include <doctest/doctest.h>

#include "storage/database.hpp"
#include "tasks/task_kernels.hpp"

namespace p2p::test {

placement_audit audit_placement(const std::map<std::string, std::vector<std::string>>& expected,
                                const std::map<std::string, std::vector<std::string>>& held) {
  placement_audit a;
  for (auto& [id, nodes] : expected) {
    auto it = held.find(id);
    if (it == held.end() || it->second.empty()) {
      ++a.missing;
      continue;
    }
    auto want = nodes, have = it->second;
    std::sort(want.begin(), want.end());
    std::sort(have.begin(), have.end());
    a.doubled += have.size() > want.size();
    a.short_copies += have.size() < want.size();
    a.misplaced += have != want;
  }
  for (auto& [id, nodes] : held)
    a.foreign += !expected.count(id);
  return a;
}

std::map<uint64_t, task_record> read_tasks(const std::string& data_dir) {
  std::string error;
  auto db = database::open(data_dir, durability_mode::wal, error);
  REQUIRE_MESSAGE(db, error);
  std::map<uint64_t, task_record> tasks;
  db->scan(column::tasks, "", [&](std::string_view key, std::string_view value) {
    uint64_t id = 0;
    bool is_payload = false;
    REQUIRE(parse_task_key(key, id, is_payload));
    if (is_payload) {
      REQUIRE(tasks.count(id));
      tasks[id].payload = std::string(value);
      return;
    }
    task_record t;
    REQUIRE(decode(value, t));
    REQUIRE(t.id == id);
    tasks[id] = std::move(t);
  });
  return tasks;
}

task_audit audit_tasks(const std::map<uint64_t, task_record>& tasks,
                       const std::function<std::string(const task_record&)>& document_of) {
  task_audit a;
  for (auto& [id, t] : tasks) {
    ++a.tasks;
    a.rerun += t.attempts > 1;
    a.failed += t.state == task_state::failed;
    a.documents.insert(document_of(t));
    if (t.state != task_state::completed)
      continue;
    ++a.completed;
    a.not_written_once += t.result_writes != 1;
    std::string expected;
    auto err = run_task_kernel(t.type, t.params, t.payload, expected);
    a.wrong_results += !err.empty() || t.result != expected;
  }
  return a;
}

} // namespace p2p::test
