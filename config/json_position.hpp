#pragma once
// Where a JSON text first goes wrong, as "line L, column C": simdjson says what is wrong but not
// where, and a config file with a missing comma deserves a place to look.

#include <cstddef>
#include <string>
#include <string_view>

namespace p2p {

/// The byte offset of the first character at which `text` stops being one valid JSON value
/// (text.size() when it ends too early); npos when it is valid.
[[nodiscard]] size_t json_error_offset(std::string_view text);

/// "line L, column C" (1-based) of `offset` in `text`.
[[nodiscard]] std::string line_and_column(std::string_view text, size_t offset);

/// " at line L, column C" where `text` first goes wrong ("" when that cannot be told).
[[nodiscard]] inline std::string json_error_place(std::string_view text) {
  auto at = json_error_offset(text);
  return at == std::string_view::npos ? std::string() : " at " + line_and_column(text, at);
}

} // namespace p2p
