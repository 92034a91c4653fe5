#include "text/embedder.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "text/text_kernels.hpp"
#include "vectors/distance.hpp"
#include "core/hashing.hpp"

namespace p2p {

void hashing_embedder::embed(std::string_view text, float* out) const {
  std::fill(out, out + dim_, 0.0f);
  thread_local std::vector<token_span> tokens;
  thread_local std::vector<uint64_t> features;
  thread_local std::string term;
  tokenize(text, tokens);
  features.clear();
  uint64_t previous = 0;
  for (size_t i = 0; i < tokens.size(); ++i) {
    lowercase_into(text.substr(tokens[i].begin, tokens[i].end - tokens[i].begin), term);
    uint64_t h = mix64(fnv1a(term));
    features.push_back(h);
    if (i > 0)
      features.push_back(mix64(previous * 31 + h + 0x9e3779b97f4a7c15ull)); // bigram
    previous = h;
  }
  std::sort(features.begin(), features.end());
  for (size_t i = 0; i < features.size();) {
    size_t j = i;
    while (j < features.size() && features[j] == features[i])
      ++j;
    uint64_t h = features[i];
    float weight = 1.0f + std::log(float(j - i));
    out[(h >> 1) % dim_] += (h & 1) ? -weight : weight;
    i = j;
  }
  normalize(out, dim_);
}

std::unique_ptr<embedder> make_default_embedder(uint32_t dim) { return std::make_unique<hashing_embedder>(dim); }

} // namespace p2p
