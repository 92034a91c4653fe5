#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "text/embedder.hpp"
#include "vectors/distance.hpp"

using namespace p2p;

namespace {

std::vector<float> embed(const embedder& e, std::string_view text) {
  std::vector<float> v(e.dim());
  e.embed(text, v.data());
  return v;
}

float cosine(const std::vector<float>& a, const std::vector<float>& b) { return dot(a.data(), b.data(), a.size()); }

} // namespace

TEST_CASE("the hashing embedder is deterministic and gives unit vectors") {
  hashing_embedder e(512);
  auto a = embed(e, "The quick brown fox jumps over the lazy dog");
  auto b = embed(hashing_embedder(512), "The quick brown fox jumps over the lazy dog");
  CHECK(a == b);
  CHECK(dot(a.data(), a.data(), 512) == doctest::Approx(1.0).epsilon(1e-5));
  CHECK(embed(e, "THE QUICK brown fox, jumps over the lazy dog!") == a); // case and punctuation do not matter
  auto zero = embed(e, "  ... ");
  CHECK(zero == std::vector<float>(512, 0.0f));
}

TEST_CASE("similar texts embed closer than unrelated ones, and word order matters through bigrams") {
  hashing_embedder e(512);
  auto base = embed(e, "vector databases store embeddings for similarity search");
  auto near = embed(e, "a vector database stores embeddings for fast similarity search");
  auto far = embed(e, "the recipe needs two eggs, flour and a pinch of salt");
  CHECK(cosine(base, near) > 0.4f);
  CHECK(cosine(base, far) < 0.2f);
  CHECK(cosine(base, near) > cosine(base, far));
  auto swapped = embed(e, "search similarity for embeddings store databases vector");
  CHECK(cosine(base, swapped) < 0.99f);
  CHECK(cosine(base, swapped) > 0.5f); // same unigrams
}

TEST_CASE("sublinear term frequency: repeating a word does not swamp the others") {
  hashing_embedder e(256);
  auto once = embed(e, "alpha beta");
  auto often = embed(e, "alpha alpha alpha alpha alpha alpha alpha alpha beta");
  auto beta = embed(e, "beta");
  CHECK(cosine(often, beta) > 0.15f);
  CHECK(cosine(once, often) > 0.5f);
}
