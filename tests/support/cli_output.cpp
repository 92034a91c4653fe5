#include "tests/support/cli_output.hpp"

#include <algorithm>
#include <set>
#include <sstream>

#include <doctest/doctest.h>
#include <stdexcept>

#include <simdjson.h>

namespace p2p::test {

namespace {

simdjson::dom::element parse(simdjson::dom::parser& p, const std::string& json) {
  simdjson::dom::element doc;
  if (p.parse(json).get(doc))
    throw std::runtime_error("not JSON: " + json.substr(0, 200));
  return doc;
}

} // namespace

collection_counts parse_status(const std::string& json, const std::string& collection) {
  simdjson::dom::parser p;
  auto doc = parse(p, json);
  collection_counts out;
  for (auto c : doc["collections"].get_array()) {
    if (std::string_view(c["name"]) == collection) {
      out.count = uint64_t(c["count"]);
      out.pending = uint64_t(c["pending"]);
    }
  }
  return out;
}

std::vector<std::string> json_string_array(const std::string& json, const char* key) {
  simdjson::dom::parser p;
  auto doc = parse(p, json);
  simdjson::dom::array items;
  if (doc[key].get_array().get(items))
    throw std::runtime_error(std::string("no array '") + key + "' in: " + json.substr(0, 200));
  std::vector<std::string> out;
  for (auto item : items) {
    std::string_view text;
    if (item.get_string().get(text))
      throw std::runtime_error(std::string("a non-string in '") + key + "'");
    out.emplace_back(text);
  }
  return out;
}

uint64_t parse_task_count(const std::string& json, const char* state) {
  simdjson::dom::parser p;
  auto doc = parse(p, json);
  return uint64_t(doc["tasks"][state]);
}

uint64_t parse_tasks_in_flight(const std::string& json, const char* executor) {
  simdjson::dom::parser p;
  auto doc = parse(p, json);
  auto v = doc["tasks_in_flight"][executor];
  return v.error() ? 0 : uint64_t(v);
}

std::vector<search_line> parse_search(const std::string& out) {
  std::vector<search_line> lines;
  std::istringstream in(out);
  std::string line;
  simdjson::dom::parser p;
  while (std::getline(in, line)) {
    auto doc = parse(p, line);
    size_t q = uint64_t(doc["query"]);
    if (q != lines.size())
      throw std::runtime_error("search output out of order at query " + std::to_string(q));
    search_line s;
    for (auto r : doc["results"].get_array()) {
      s.ids.emplace_back(std::string_view(r["id"]));
      s.scores.push_back(double(r["score"]));
    }
    // Every search a test reads is checked here: a result list never holds an id twice, and
    // scores come best first (similarities descending, l2 distances ascending).
    CHECK_MESSAGE(std::set<std::string>(s.ids.begin(), s.ids.end()).size() == s.ids.size(),
                  "query " << q << " returned an id twice");
    CHECK_MESSAGE((std::is_sorted(s.scores.begin(), s.scores.end()) || std::is_sorted(s.scores.rbegin(), s.scores.rend())),
                  "query " << q << ": scores not in order");
    lines.push_back(std::move(s));
  }
  return lines;
}

std::vector<std::vector<size_t>> result_rows(const std::vector<search_line>& lines) {
  std::vector<std::vector<size_t>> out;
  for (auto& l : lines) {
    out.emplace_back();
    for (auto& id : l.ids)
      out.back().push_back(std::stoul(id));
  }
  return out;
}

std::vector<float> parse_get(const std::string& json, std::string* metadata) {
  simdjson::dom::parser p;
  auto doc = parse(p, json);
  std::vector<float> out;
  for (auto x : doc["vector"].get_array())
    out.push_back(float(double(x)));
  if (metadata)
    *metadata = simdjson::minify(doc["metadata"]);
  return out;
}

double json_number(const std::string& json, const char* key) {
  simdjson::dom::parser p;
  auto doc = parse(p, json);
  auto v = doc[key];
  if (v.error())
    return -1;
  return double(v);
}

} // namespace p2p::test
