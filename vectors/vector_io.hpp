#pragma once
// Readers for vector files: .fvecs (TEXMEX) and JSON Lines. Rows come out in batches; a bad row
// stops the reader with an error naming the file and the row (fvecs, 0-based = the id) or line
// (JSONL, 1-based), and every row before it is still delivered.

#include <cstdint>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

namespace p2p {

/// A batch of rows: ids, dim floats per row, and metadata JSON ("" when absent).
struct vector_rows {
  uint32_t dim = 0;
  std::vector<std::string> ids;
  std::vector<float> values;
  std::vector<std::string> metadata;

  [[nodiscard]] size_t size() const { return ids.size(); }
  void clear() {
    ids.clear();
    values.clear();
    metadata.clear();
  }
};

class vector_reader {
public:
  virtual ~vector_reader() = default;

  /// Opens `path` by its extension (.fvecs, .jsonl, .json), or "-": JSON Lines on standard input;
  /// null with `error` set on failure.
  static std::unique_ptr<vector_reader> open(const std::string& path, std::string& error);

  /// Appends up to `max_rows` rows to `out`; returns false when nothing more can be read
  /// (end of file, or an error: see error()).
  virtual bool next(size_t max_rows, vector_rows& out) = 0;

  [[nodiscard]] const std::string& error() const { return error_; }
  [[nodiscard]] size_t rows_read() const { return rows_; }

  /// Rows in the whole file where the format tells (.fvecs: its size over the row size, once
  /// the first row gave the dimension); 0 when unknown (JSON Lines).
  [[nodiscard]] virtual size_t rows_total() const { return 0; }

protected:
  std::string path_;
  std::string error_;
  size_t rows_ = 0;
  uint32_t dim_ = 0;
};

/// Writes rows as .fvecs; used by tests and benchmarks to make data sets.
bool write_fvecs(const std::string& path, const float* values, size_t rows, uint32_t dim);

/// Checks that every value is finite; returns the index of the first bad one or SIZE_MAX.
[[nodiscard]] size_t first_non_finite(const float* values, size_t n);

} // namespace p2p
