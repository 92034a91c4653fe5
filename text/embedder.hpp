#pragma once
// Embedders turn text into `dim()` floats. The default one needs no model: signed feature
// hashing of lowercase word unigrams and bigrams, sublinear term frequency, L2-normalised.

#include <cstdint>
#include <memory>
#include <string_view>

namespace p2p {

class embedder {
public:
  virtual ~embedder() = default;
  [[nodiscard]] virtual uint32_t dim() const = 0;
  /// Writes dim() floats for `text` (valid UTF-8) into `out`; the same text gives the same vector.
  virtual void embed(std::string_view text, float* out) const = 0;
};

/// Signed feature hashing: each unigram and bigram hashes to a slot and a sign; a feature seen
/// tf times adds sign * (1 + ln tf). Text without words gives the zero vector.
class hashing_embedder : public embedder {
public:
  explicit hashing_embedder(uint32_t dim) : dim_(dim) {}
  [[nodiscard]] uint32_t dim() const override { return dim_; }
  void embed(std::string_view text, float* out) const override;

private:
  uint32_t dim_;
};

/// The embedder a node uses for `dim`-wide collections.
[[nodiscard]] std::unique_ptr<embedder> make_default_embedder(uint32_t dim);

} // namespace p2p
