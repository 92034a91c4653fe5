#pragma once
// Checks of what a run left on disk that count each item, so that one lost and one doubled
// cannot add up to the right total: ids against the nodes that should hold them, and stored
// task results against the kernel run again on each payload.

#include <cstddef>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "tasks/task.hpp"

namespace p2p::test {

struct placement_audit {
  size_t missing = 0;   // expected ids no node holds
  size_t doubled = 0;   // ids with more copies than expected
  size_t short_copies = 0; // ids held, with fewer copies than expected
  size_t misplaced = 0; // ids held, but not by exactly the nodes that should
  size_t foreign = 0;   // ids held that were never expected
  [[nodiscard]] bool clean() const { return missing + doubled + short_copies + misplaced + foreign == 0; }
};

/// `expected`: each id and the nodes that should hold it (its replicas); `held`: each id found
/// and the nodes holding it (a node twice if it holds two copies).
placement_audit audit_placement(const std::map<std::string, std::vector<std::string>>& expected,
                                const std::map<std::string, std::vector<std::string>>& held);

/// Every task record of a data dir with its payload (the payload key follows its record);
/// fails the test on an entry it cannot read.
std::map<uint64_t, task_record> read_tasks(const std::string& data_dir);

struct task_audit {
  size_t tasks = 0, completed = 0, failed = 0, rerun = 0;
  size_t wrong_results = 0;      // completed, but the result is not what the kernel makes of the payload
  size_t not_written_once = 0;   // completed with result_writes != 1
  std::set<std::string> documents; // `document_of` of each task's payload: one per task when none ran twice
};

/// The last word of a task's payload: the tests end each document's text with its number.
inline std::string last_word(const task_record& t) { return t.payload.substr(t.payload.rfind(' ') + 1); }

/// Runs the kernel again on every stored payload and compares it with the stored result.
task_audit audit_tasks(const std::map<uint64_t, task_record>& tasks,
                       const std::function<std::string(const task_record&)>& document_of);

} // namespace p2p::test
