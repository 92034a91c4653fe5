#include "vectors/vector_io.hpp"

#include <cmath>
#include <cstring>
#include <filesystem>

#include <simdjson.h>

namespace p2p {

namespace {

constexpr uint32_t max_dim = 65536;

std::string describe_value(size_t row_or_line, size_t index, float v) {
  return std::to_string(row_or_line) + ": value " + std::to_string(index) + " is " + (std::isnan(v) ? "NaN" : "infinite");
}

class fvecs_reader : public vector_reader {
public:
  fvecs_reader(std::string path, std::ifstream in) : in_(std::move(in)) {
    path_ = std::move(path);
    std::error_code ec;
    bytes_ = std::filesystem::file_size(path_, ec);
    if (ec)
      bytes_ = 0;
  }

  size_t rows_total() const override { return dim_ ? bytes_ / (4 + size_t(dim_) * 4) : 0; }

  bool next(size_t max_rows, vector_rows& out) override {
    if (!error_.empty())
      return false;
    size_t added = 0;
    while (added < max_rows) {
      int32_t dim = 0;
      in_.read(reinterpret_cast<char*>(&dim), sizeof dim);
      auto got = in_.gcount();
      if (got == 0) {
        if (rows_ == 0)
          error_ = path_ + ": empty file, no vectors";
        break;
      }
      std::string where = path_ + ": row " + std::to_string(rows_);
      if (got != sizeof dim)
        return fail(where + ": truncated (" + std::to_string(got) + " bytes of the 4-byte dimension)");
      if (dim <= 0 || uint32_t(dim) > max_dim)
        return fail(where + ": dimension " + std::to_string(dim) + " out of range 1.." + std::to_string(max_dim));
      if (dim_ == 0)
        dim_ = uint32_t(dim);
      if (uint32_t(dim) != dim_)
        return fail(where + ": dimension " + std::to_string(dim) + ", expected " + std::to_string(dim_) + " as in row 0");
      if (out.dim == 0)
        out.dim = dim_;
      size_t offset = out.values.size();
      out.values.resize(offset + dim_);
      in_.read(reinterpret_cast<char*>(&out.values[offset]), std::streamsize(dim_) * 4);
      if (size_t(in_.gcount()) != size_t(dim_) * 4) {
        out.values.resize(offset);
        return fail(where + ": truncated (" + std::to_string(in_.gcount()) + " of " + std::to_string(dim_ * 4)
                    + " value bytes)");
      }
      if (auto bad = first_non_finite(&out.values[offset], dim_); bad != SIZE_MAX) {
        float v = out.values[offset + bad];
        out.values.resize(offset);
        return fail(path_ + ": row " + describe_value(rows_, bad, v));
      }
      out.ids.push_back(std::to_string(rows_));
      out.metadata.emplace_back();
      ++rows_;
      ++added;
    }
    return added > 0;
  }

private:
  bool fail(std::string msg) {
    error_ = std::move(msg);
    return false;
  }
  std::ifstream in_;
  uintmax_t bytes_ = 0;
};

class jsonl_reader : public vector_reader {
public:
  jsonl_reader(std::string path, std::ifstream in) : in_(std::move(in)) { path_ = std::move(path); }

  bool next(size_t max_rows, vector_rows& out) override {
    if (!error_.empty())
      return false;
    size_t added = 0;
    std::string line;
    while (added < max_rows && std::getline(in_, line)) {
      ++line_no_;
      if (line.find_first_not_of(" \t\r") == std::string::npos)
        continue;
      std::string where = path_ + ": line " + std::to_string(line_no_);
      if (!parse_line(line, where, out))
        return false;
      ++rows_;
      ++added;
    }
    if (added == 0 && rows_ == 0 && error_.empty() && !in_)
      error_ = path_ + ": empty file, no vectors";
    return added > 0;
  }

private:
  bool fail(std::string msg) {
    error_ = std::move(msg);
    return false;
  }

  bool parse_line(const std::string& line, const std::string& where, vector_rows& out) {
    simdjson::dom::element doc;
    if (auto err = parser_.parse(line).get(doc))
      return fail(where + ": invalid JSON (" + simdjson::error_message(err) + ")");
    simdjson::dom::object obj;
    if (doc.get(obj))
      return fail(where + ": expected a JSON object");
    std::string id;
    bool have_vector = false;
    std::string metadata;
    size_t offset = out.values.size();
    auto undo = [&] { out.values.resize(offset); };
    for (auto [key, value] : obj) {
      if (key == "id") {
        if (value.is_string())
          id = std::string(std::string_view(value));
        else if (value.is_uint64())
          id = std::to_string(uint64_t(value));
        else
          return undo(), fail(where + ": \"id\" must be a string or a non-negative integer");
        if (id.empty())
          return undo(), fail(where + ": \"id\" is empty");
      } else if (key == "vector") {
        simdjson::dom::array arr;
        if (value.get(arr))
          return undo(), fail(where + ": \"vector\" must be an array of numbers");
        size_t i = 0;
        for (auto x : arr) {
          double d;
          if (x.get(d))
            return undo(), fail(where + ": \"vector\"[" + std::to_string(i) + "] is not a number");
          float f = float(d);
          if (!std::isfinite(f))
            return undo(), fail(path_ + ": line " + describe_value(line_no_, i, f));
          out.values.push_back(f);
          ++i;
        }
        if (i == 0)
          return undo(), fail(where + ": \"vector\" is empty");
        if (dim_ == 0)
          dim_ = uint32_t(i);
        if (i != dim_)
          return undo(), fail(where + ": dimension " + std::to_string(i) + ", expected " + std::to_string(dim_)
                                  + " as in the first row");
        have_vector = true;
      } else if (key == "metadata") {
        if (!value.is_object())
          return undo(), fail(where + ": \"metadata\" must be an object");
        metadata = simdjson::minify(value);
      } else {
        return undo(), fail(where + ": unknown key \"" + std::string(key) + "\" (expected id, vector, metadata)");
      }
    }
    if (!have_vector)
      return undo(), fail(where + ": missing \"vector\"");
    if (id.empty())
      id = std::to_string(rows_); // rows without an id are numbered like fvecs rows
    out.dim = dim_;
    out.ids.push_back(std::move(id));
    out.metadata.push_back(std::move(metadata));
    return true;
  }

  std::ifstream in_;
  simdjson::dom::parser parser_;
  size_t line_no_ = 0;
};

} // namespace

size_t first_non_finite(const float* values, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (!std::isfinite(values[i]))
      return i;
  return SIZE_MAX;
}

std::unique_ptr<vector_reader> vector_reader::open(const std::string& path, std::string& error) {
  if (path == "-") { // standard input: JSON Lines (.fvecs needs a file, whose size gives the total)
    std::ifstream in("/dev/stdin", std::ios::binary);
    if (!in) {
      error = "stdin: cannot read";
      return nullptr;
    }
    return std::make_unique<jsonl_reader>("stdin", std::move(in));
  }
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    error = path + ": no such file";
    return nullptr;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = path + ": cannot open: " + std::strerror(errno);
    return nullptr;
  }
  auto ext = std::filesystem::path(path).extension().string();
  if (ext == ".fvecs")
    return std::make_unique<fvecs_reader>(path, std::move(in));
  if (ext == ".jsonl" || ext == ".json" || ext == ".ndjson")
    return std::make_unique<jsonl_reader>(path, std::move(in));
  error = path + ": unknown vector format '" + ext + "' (expected .fvecs or .jsonl)";
  return nullptr;
}

bool write_fvecs(const std::string& path, const float* values, size_t rows, uint32_t dim) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  auto d = int32_t(dim);
  for (size_t r = 0; r < rows && out; ++r) {
    out.write(reinterpret_cast<const char*>(&d), 4);
    out.write(reinterpret_cast<const char*>(values + r * dim), std::streamsize(dim) * 4);
  }
  return bool(out);
}

} // namespace p2p
