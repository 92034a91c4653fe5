#pragma once
// Reads documents from JSON Lines, one {"id": "...", "text": "..."} per line. A bad line is
// reported with its line number and skipped: the documents around it still come out.

#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <simdjson.h>

namespace p2p {

struct document {
  std::string id;
  std::string text;
};

class document_reader {
public:
  /// Opens `path` ("-": standard input); null with `error` set when it cannot be read.
  static std::unique_ptr<document_reader> open(const std::string& path, std::string& error);

  /// Appends up to `max_docs` documents (or stops after `max_bytes` of text); bad lines go to
  /// `errors` as "FILE: line N: reason". Returns false at the end of the file.
  bool next(size_t max_docs, size_t max_bytes, std::vector<document>& out, std::vector<std::string>& errors);

  [[nodiscard]] size_t lines() const { return line_no_; }
  [[nodiscard]] size_t documents() const { return documents_; }

private:
  std::string path_;
  std::ifstream in_;
  simdjson::dom::parser parser_;
  size_t line_no_ = 0;
  size_t documents_ = 0;
};

/// JSON string escaping for output written by hand.
[[nodiscard]] std::string json_escape(std::string_view s);

} // namespace p2p
