#pragma once
// Strict readers for JSON documents parsed with simdjson: every key known, every value of the
// expected type and range, else an error naming the key path. Shared by the node config and
// the bench scenarios.

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <simdjson.h>

namespace p2p::json_fields {

using simdjson::dom::element;
using simdjson::dom::element_type;

struct error_found {
  std::string message;
};

inline std::string type_name(element_type t) {
  switch (t) {
    case element_type::ARRAY: return "an array";
    case element_type::OBJECT: return "an object";
    case element_type::INT64:
    case element_type::UINT64: return "an integer";
    case element_type::DOUBLE: return "a number";
    case element_type::STRING: return "a string";
    case element_type::BOOL: return "a boolean";
    case element_type::NULL_VALUE: return "null";
  }
  return "a value";
}

[[noreturn]] inline void fail(const std::string& path, const std::string& expected, element v) {
  throw error_found{path + ": expected " + expected + ", got " + type_name(v.type())};
}

[[noreturn]] inline void fail_range(const std::string& path, const std::string& expected, int64_t got) {
  throw error_found{path + ": expected " + expected + ", got " + std::to_string(got)};
}

template <class T>
void read_uint(const std::string& path, element v, T& out, int64_t lo, int64_t hi) {
  auto expected = "an integer from " + std::to_string(lo) + " to " + std::to_string(hi);
  int64_t x = 0;
  if (v.type() == element_type::INT64)
    x = int64_t(v);
  else if (v.type() == element_type::UINT64)
    fail_range(path, expected, INT64_MAX);
  else
    fail(path, expected, v);
  if (x < lo || x > hi)
    fail_range(path, expected, x);
  out = static_cast<T>(x);
}

inline std::string read_string(const std::string& path, element v, bool allow_empty = false) {
  if (v.type() != element_type::STRING)
    fail(path, "a string", v);
  std::string s{std::string_view(v)};
  if (s.empty() && !allow_empty)
    throw error_found{path + ": expected a non-empty string"};
  return s;
}

inline bool read_bool(const std::string& path, element v) {
  if (v.type() != element_type::BOOL)
    fail(path, "true or false", v);
  return bool(v);
}

inline std::vector<std::string> read_string_array(const std::string& path, element v) {
  if (v.type() != element_type::ARRAY)
    fail(path, "an array of strings", v);
  std::vector<std::string> out;
  size_t i = 0;
  for (element item : simdjson::dom::array(v))
    out.push_back(read_string(path + "[" + std::to_string(i++) + "]", item));
  return out;
}

using field_reader = std::function<void(const std::string& path, element v)>;

/// Walks an object, dispatching each key to its reader; an unknown key is an error.
inline void read_object(const std::string& path, element v, const std::map<std::string_view, field_reader>& fields) {
  if (v.type() != element_type::OBJECT)
    fail(path.empty() ? "(top level)" : path, "an object", v);
  for (auto [key, value] : simdjson::dom::object(v)) {
    auto sub = path.empty() ? std::string(key) : path + "." + std::string(key);
    auto it = fields.find(key);
    if (it == fields.end()) {
      std::string known;
      for (auto& [k, _] : fields)
        known += (known.empty() ? "" : ", ") + std::string(k);
      throw error_found{"unknown key '" + sub + "' (expected one of: " + known + ")"};
    }
    it->second(sub, value);
  }
}

} // namespace p2p::json_fields
