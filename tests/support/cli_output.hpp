#pragma once
// Reading the --json output of p2p-agent commands in tests.

#include <cstdint>
#include <string>
#include <vector>

namespace p2p::test {

struct collection_counts {
  uint64_t count = 0;
  uint64_t pending = 0;
};

/// The counts of `collection` in `status --json` output (zeros when absent).
collection_counts parse_status(const std::string& json, const std::string& collection = "default");

/// The count of tasks in `state` (queued, running, completed, ...) in `status --json` output.
uint64_t parse_task_count(const std::string& json, const char* state);

/// The tasks in flight on `executor` ("local" or a peer's id) in `status --json` output (0 when
/// it is not listed).
uint64_t parse_tasks_in_flight(const std::string& json, const char* executor);

struct search_line {
  std::vector<std::string> ids;
  std::vector<double> scores;
};

/// One entry per query line of `search --json`, in query order; CHECKs that no line holds an id
/// twice and that scores are in order (best first).
std::vector<search_line> parse_search(const std::string& out);

/// The result ids of each query as row numbers (for data sets whose ids are their row numbers).
std::vector<std::vector<size_t>> result_rows(const std::vector<search_line>& lines);

/// The vector of `get --json`, and its metadata as minified JSON.
std::vector<float> parse_get(const std::string& json, std::string* metadata = nullptr);

/// The strings of an array field of a JSON object (`status --json`'s "late"); throws when the
/// field is missing or is not an array of strings.
std::vector<std::string> json_string_array(const std::string& json, const char* key);

/// A numeric field of a one-line JSON object (`put --json`), or -1.
double json_number(const std::string& json, const char* key);

} // namespace p2p::test
