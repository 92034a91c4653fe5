#include <doctest/doctest.h>

#include <cmath>

#include "tests/support/data.hpp"
#include "vectors/distance.hpp"

using namespace p2p;

TEST_CASE("dot and squared l2 match a naive double loop for every length") {
  for (size_t n : {1u, 3u, 7u, 16u, 17u, 128u, 512u, 1001u}) {
    auto v = test::random_vectors(2, uint32_t(n), n);
    const float* a = v.data();
    const float* b = v.data() + n;
    double naive_dot = 0, naive_l2 = 0;
    for (size_t i = 0; i < n; ++i) {
      naive_dot += double(a[i]) * b[i];
      naive_l2 += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
    }
    INFO("n = " << n);
    CHECK(dot(a, b, n) == doctest::Approx(naive_dot).epsilon(1e-4).scale(std::sqrt(double(n))));
    CHECK(l2_squared(a, b, n) == doctest::Approx(naive_l2).epsilon(1e-4));
  }
}

TEST_CASE("normalize gives unit length and leaves a zero vector alone") {
  auto v = test::random_vectors(1, 100, 3);
  normalize(v.data(), v.size());
  CHECK(dot(v.data(), v.data(), v.size()) == doctest::Approx(1.0).epsilon(1e-5));
  std::vector<float> zero(10, 0.0f);
  normalize(zero.data(), zero.size());
  CHECK(zero == std::vector<float>(10, 0.0f));
}

TEST_CASE("scores: similarity for cosine and ip, Euclidean distance for l2") {
  std::vector<float> a{3, 4}, b{3, 0};
  CHECK(score_of(metric_kind::l2, distance(metric_kind::l2, a.data(), b.data(), 2)) == doctest::Approx(4.0));
  CHECK(score_of(metric_kind::ip, distance(metric_kind::ip, a.data(), b.data(), 2)) == doctest::Approx(9.0));
  CHECK(better_score(metric_kind::l2, 1.0f, 2.0f));
  CHECK(better_score(metric_kind::cosine, 0.9f, 0.2f));
}
