#pragma once
// Search filters on a vector's metadata (`search --filter`): KEY=VALUE, KEY=A|B (any of),
// KEY!=VALUE (absent or different), KEY>=N and KEY<=N (numbers). Every condition must hold.
// Keys name top-level fields of the metadata JSON object. Pure logic.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace p2p {

struct filter_condition {
  enum kind : uint8_t { eq, ne, ge, le };
  std::string key;
  kind op = eq;
  std::vector<std::string> values; // eq, ne: any of (eq) / none of (ne)
  double number = 0;               // ge, le
};

/// Parses one condition; empty string when it is well formed, else what is wrong.
[[nodiscard]] std::string parse_filter(std::string_view text, filter_condition& out);

/// Parses every condition of `texts`; the first problem, naming the condition, or empty.
[[nodiscard]] std::string parse_filters(const std::vector<std::string>& texts, std::vector<filter_condition>& out);

/// One metadata field's value, as the filters compare it.
struct field_value {
  enum kind : uint8_t { absent, string, number, boolean, other };
  kind type = absent;
  double num = 0;   // number; boolean: 1 or 0
  std::string str;  // string
};

/// The top-level field `key` of a metadata JSON object ("" or not an object: absent).
[[nodiscard]] field_value field_of(std::string_view metadata_json, const std::string& key);

/// Whether `v` meets `c`. A value is equal to a condition value when the strings are equal, the
/// numbers are equal (the condition value read as a number), or it is the boolean true/false.
[[nodiscard]] bool matches(const filter_condition& c, const field_value& v);

/// Top-level fields `keys` of one metadata JSON object, in the order of `keys`.
void fields_of(std::string_view metadata_json, const std::vector<std::string>& keys, std::vector<field_value>& out);

} // namespace p2p
