#include <doctest/doctest.h>

#include <set>
#include <string>

#include "vectors/top_k.hpp"

using namespace p2p;

namespace {

std::vector<std::string> ids_of(const std::vector<scored_id>& hits) {
  std::vector<std::string> out;
  for (auto& h : hits)
    out.emplace_back(h.id);
  return out;
}

} // namespace

TEST_CASE("top-k merge keeps the k best by similarity for cosine and ip, best first") {
  std::vector<scored_id> pool{{0.2f, "a"}, {0.9f, "b"}, {0.5f, "c"}, {0.7f, "d"}, {0.1f, "e"}};
  auto best = top_k_unique(pool, 3, metric_kind::cosine);
  CHECK(ids_of(best) == std::vector<std::string>{"b", "d", "c"});
  CHECK(best[0].score == doctest::Approx(0.9f));
  CHECK(ids_of(top_k_unique(pool, 3, metric_kind::ip)) == std::vector<std::string>{"b", "d", "c"});
}

TEST_CASE("top-k merge keeps the k smallest distances for l2") {
  std::vector<scored_id> pool{{0.2f, "a"}, {0.9f, "b"}, {0.5f, "c"}, {0.7f, "d"}, {0.1f, "e"}};
  CHECK(ids_of(top_k_unique(pool, 2, metric_kind::l2)) == std::vector<std::string>{"e", "a"});
}

TEST_CASE("an id that two shards return is one hit, with its best score, and the next id fills its place") {
  // As during a handoff: the old and the new owner both hold "x".
  std::vector<scored_id> pool{{0.95f, "x"}, {0.90f, "y"}, {0.93f, "x"}, {0.80f, "z"}, {0.95f, "x"}};
  auto best = top_k_unique(pool, 3, metric_kind::cosine);
  CHECK(ids_of(best) == std::vector<std::string>{"x", "y", "z"});
  CHECK(best[0].score == doctest::Approx(0.95f));
  auto ids = ids_of(best);
  CHECK(std::set<std::string>(ids.begin(), ids.end()).size() == ids.size());
}

TEST_CASE("top-k merge returns fewer than k when fewer distinct ids exist, and nothing for an empty pool") {
  CHECK(top_k_unique({{0.5f, "a"}, {0.4f, "a"}}, 10, metric_kind::cosine).size() == 1);
  CHECK(top_k_unique({}, 10, metric_kind::cosine).empty());
  CHECK(top_k_unique({{0.5f, "a"}}, 0, metric_kind::cosine).empty());
}

TEST_CASE("equal scores are ordered by id, whatever order the shards replied in") {
  std::vector<scored_id> one{{0.5f, "b"}, {0.5f, "a"}, {0.5f, "c"}};
  std::vector<scored_id> other{{0.5f, "c"}, {0.5f, "b"}, {0.5f, "a"}};
  CHECK(ids_of(top_k_unique(one, 2, metric_kind::cosine)) == std::vector<std::string>{"a", "b"});
  CHECK(ids_of(top_k_unique(other, 2, metric_kind::cosine)) == std::vector<std::string>{"a", "b"});
}
