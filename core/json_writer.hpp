#pragma once
// One small JSON writer for every JSON the project answers with (HTTP API, status): keys,
// strings escaped, commas placed by the writer, not by string concatenation at each call site.

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

namespace p2p {

class json_writer {
public:
  json_writer& begin_object() { return open('{'); }
  json_writer& end_object() { return close('}'); }
  json_writer& begin_array() { return open('['); }
  json_writer& end_array() { return close(']'); }

  json_writer& key(std::string_view k) {
    separate();
    string(k);
    out_ += ": ";
    after_key_ = true;
    return *this;
  }

  json_writer& value(std::string_view s) {
    separate();
    string(s);
    return *this;
  }
  json_writer& value(const char* s) { return value(std::string_view(s)); }
  json_writer& value(const std::string& s) { return value(std::string_view(s)); }
  json_writer& value(bool b) { return raw(b ? "true" : "false"); }
  json_writer& value(double d) {
    if (!std::isfinite(d))
      return raw("null");
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.9g", d);
    return raw(buf);
  }
  json_writer& value(float f) { return value(double(f)); }
  template <class T, class = std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool>>>
  json_writer& value(T n) {
    return raw(std::to_string(n));
  }

  /// A value that is JSON already (e.g. stored metadata); empty text writes `empty_as`.
  json_writer& raw(std::string_view json, std::string_view empty_as = "null") {
    separate();
    out_ += json.empty() ? empty_as : json;
    return *this;
  }

  template <class T> json_writer& field(std::string_view k, const T& v) { return key(k).value(v); }

  [[nodiscard]] const std::string& str() const { return out_; }
  [[nodiscard]] std::string take() { return std::move(out_); }

private:
  json_writer& open(char c) {
    separate();
    out_ += c;
    first_.push_back(true);
    return *this;
  }
  json_writer& close(char c) {
    out_ += c;
    if (!first_.empty())
      first_.pop_back();
    return *this;
  }
  void separate() {
    if (after_key_) {
      after_key_ = false;
      return;
    }
    if (!first_.empty()) {
      if (!first_.back())
        out_ += ", ";
      first_.back() = false;
    }
  }
  void string(std::string_view s) {
    out_ += '"';
    for (unsigned char c : s) {
      switch (c) {
        case '"': out_ += "\\\""; break;
        case '\\': out_ += "\\\\"; break;
        case '\n': out_ += "\\n"; break;
        case '\r': out_ += "\\r"; break;
        case '\t': out_ += "\\t"; break;
        default:
          if (c < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", c);
            out_ += buf;
          } else {
            out_ += char(c);
          }
      }
    }
    out_ += '"';
  }

  std::string out_;
  std::vector<bool> first_;
  bool after_key_ = false;
};

} // namespace p2p
