#include "text/document_reader.hpp"

#include <cstdio>
#include <filesystem>

#include "core/json_writer.hpp"
#include "text/text_kernels.hpp"

namespace p2p {

std::unique_ptr<document_reader> document_reader::open(const std::string& path, std::string& error) {
  if (path == "-") { // standard input, JSON Lines
    auto r = std::make_unique<document_reader>();
    r->path_ = "stdin";
    r->in_.open("/dev/stdin", std::ios::binary);
    if (!r->in_) {
      error = "stdin: cannot read";
      return nullptr;
    }
    return r;
  }
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    error = path + ": no such file";
    return nullptr;
  }
  auto r = std::make_unique<document_reader>();
  r->path_ = path;
  r->in_.open(path, std::ios::binary);
  if (!r->in_) {
    error = path + ": cannot open";
    return nullptr;
  }
  return r;
}

bool document_reader::next(size_t max_docs, size_t max_bytes, std::vector<document>& out,
                           std::vector<std::string>& errors) {
  std::string line;
  size_t bytes = 0;
  while (out.size() < max_docs && bytes < max_bytes && std::getline(in_, line)) {
    ++line_no_;
    if (line.find_first_not_of(" \t\r") == std::string::npos)
      continue;
    auto where = path_ + ": line " + std::to_string(line_no_) + ": ";
    if (line.size() > max_document_bytes + 4096) { // refuse before parsing a line far over the limit
      errors.push_back(where + "line of " + std::to_string(line.size()) + " bytes, over the document limit of "
                       + std::to_string(max_document_bytes) + " bytes");
      continue;
    }
    simdjson::dom::element doc;
    if (auto err = parser_.parse(line).get(doc)) {
      errors.push_back(where + (err == simdjson::UTF8_ERROR ? std::string("invalid UTF-8")
                                                            : std::string("invalid JSON (") + simdjson::error_message(err) + ")"));
      continue;
    }
    document d;
    std::string problem;
    simdjson::dom::object obj;
    if (doc.get(obj)) {
      problem = "expected a JSON object";
    } else {
      bool have_text = false;
      for (auto [key, value] : obj) {
        if (key == "id") {
          if (value.is_string())
            d.id = std::string(std::string_view(value));
          else if (value.is_uint64())
            d.id = std::to_string(uint64_t(value));
          else
            problem = "\"id\" must be a string or a non-negative integer";
        } else if (key == "text") {
          if (value.is_string())
            d.text = std::string(std::string_view(value));
          else
            problem = "\"text\" must be a string";
          have_text = true;
        } else if (key != "metadata") {
          problem = "unknown key \"" + std::string(key) + "\" (expected id, text, metadata)";
        }
      }
      if (problem.empty() && !have_text)
        problem = "document without \"text\"";
      if (problem.empty() && d.id.empty())
        d.id = std::to_string(line_no_);
      if (problem.empty() && d.id.find('#') != std::string::npos)
        problem = "document id '" + d.id + "' contains '#', which separates chunk numbers";
      if (problem.empty() && d.text.size() > max_document_bytes)
        problem = "document '" + d.id + "' has " + std::to_string(d.text.size())
                  + " bytes of text, over the limit of " + std::to_string(max_document_bytes) + " bytes";
    }
    if (!problem.empty()) {
      errors.push_back(where + problem);
      continue;
    }
    bytes += d.text.size();
    out.push_back(std::move(d));
    ++documents_;
  }
  return bool(in_);
}

std::string json_escape(std::string_view s) {
  json_writer w;
  w.value(s);
  return w.str().substr(1, w.str().size() - 2); // without the quotes
}

} // namespace p2p
