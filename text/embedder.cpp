#include "text/embedder.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "text/text_kernels.hpp"
#include "vectors/distance.hpp"

namespace p2p {

namespace {

uint64_t fnv1a(std::string_view s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s)
    h = (h ^ c) * 1099511628211ull;
  return h;
}

/// A 64-bit finaliser (splitmix64) so that slot and sign bits are independent.
uint64_t mix(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

} // namespace

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
    uint64_t h = mix(fnv1a(term));
    features.push_back(h);
    if (i > 0)
      features.push_back(mix(previous * 31 + h + 0x9e3779b97f4a7c15ull)); // bigram
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
