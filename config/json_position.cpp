#include "config/json_position.hpp"

#include <algorithm>
#include <cctype>

namespace p2p {

namespace {

/// A recursive-descent check of RFC 8259 JSON that remembers where it failed.
struct checker {
  std::string_view s;
  size_t at = 0;
  int depth = 0;

  bool fail() { return false; }
  void space() {
    while (at < s.size() && (s[at] == ' ' || s[at] == '\t' || s[at] == '\n' || s[at] == '\r'))
      ++at;
  }
  bool literal(std::string_view word) {
    if (s.substr(at, word.size()) != word) {
      // Point at the first character that differs.
      for (size_t i = 0; i < word.size() && at < s.size() && s[at] == word[i]; ++i)
        ++at;
      return fail();
    }
    at += word.size();
    return true;
  }
  bool string() {
    ++at; // the opening quote
    while (at < s.size()) {
      unsigned char c = static_cast<unsigned char>(s[at]);
      if (c == '"') {
        ++at;
        return true;
      }
      if (c < 0x20)
        return fail();
      if (c == '\\') {
        ++at;
        if (at >= s.size())
          return fail();
        char e = s[at];
        if (e == 'u') {
          for (int i = 0; i < 4; ++i) {
            ++at;
            if (at >= s.size() || !std::isxdigit(static_cast<unsigned char>(s[at])))
              return fail();
          }
        } else if (std::string_view("\"\\/bfnrt").find(e) == std::string_view::npos) {
          return fail();
        }
      }
      ++at;
    }
    return fail();
  }
  bool digits() {
    size_t start = at;
    while (at < s.size() && s[at] >= '0' && s[at] <= '9')
      ++at;
    return at > start || fail();
  }
  bool number() {
    if (s[at] == '-')
      ++at;
    if (at < s.size() && s[at] == '0')
      ++at;
    else if (!digits())
      return false;
    if (at < s.size() && s[at] == '.') {
      ++at;
      if (!digits())
        return false;
    }
    if (at < s.size() && (s[at] == 'e' || s[at] == 'E')) {
      ++at;
      if (at < s.size() && (s[at] == '+' || s[at] == '-'))
        ++at;
      if (!digits())
        return false;
    }
    return true;
  }
  bool value() {
    space();
    if (at >= s.size() || ++depth > 512)
      return fail();
    bool ok = false;
    switch (s[at]) {
      case '{': ok = members('}', true); break;
      case '[': ok = members(']', false); break;
      case '"': ok = string(); break;
      case 't': ok = literal("true"); break;
      case 'f': ok = literal("false"); break;
      case 'n': ok = literal("null"); break;
      default: ok = (s[at] == '-' || (s[at] >= '0' && s[at] <= '9')) ? number() : fail();
    }
    --depth;
    return ok;
  }
  /// An object's members or an array's elements, up to `close`.
  bool members(char close, bool keyed) {
    ++at;
    space();
    if (at < s.size() && s[at] == close) {
      ++at;
      return true;
    }
    while (true) {
      if (keyed) {
        space();
        if (at >= s.size() || s[at] != '"' || !string())
          return fail();
        space();
        if (at >= s.size() || s[at] != ':')
          return fail();
        ++at;
      }
      if (!value())
        return false;
      space();
      if (at < s.size() && s[at] == ',') {
        ++at;
        continue;
      }
      if (at < s.size() && s[at] == close) {
        ++at;
        return true;
      }
      return fail();
    }
  }
};

} // namespace

size_t json_error_offset(std::string_view text) {
  checker c{text};
  if (!c.value())
    return std::min(c.at, text.size());
  c.space();
  return c.at == text.size() ? std::string_view::npos : c.at;
}

std::string line_and_column(std::string_view text, size_t offset) {
  size_t line = 1, column = 1;
  for (size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return "line " + std::to_string(line) + ", column " + std::to_string(column);
}

} // namespace p2p
