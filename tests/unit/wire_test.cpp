// What a node reads from the network: counts on the wire are not trusted.

#include <doctest/doctest.h>

#include <caf/all.hpp>

#include "protocol/messages.hpp"

using namespace p2p;

TEST_CASE("a float block survives the round trip through CAF's binary format") {
  vector_batch b{"c", 3, {"a", "b"}, {}, {}, {}};
  b.values = float_vector{1, 2, 3, 4, 5, 6};
  std::vector<char> buf;
  caf::binary_serializer out{nullptr, buf};
  REQUIRE(!inspect(out, b));
  vector_batch back;
  caf::binary_deserializer in{nullptr, buf};
  REQUIRE(!inspect(in, back));
  CHECK(back.ids == b.ids);
  CHECK(static_cast<std::vector<float>&>(back.values) == std::vector<float>{1, 2, 3, 4, 5, 6});
}

TEST_CASE("a forged float count larger than the message is refused before anything is allocated") {
  std::vector<char> buf;
  caf::binary_serializer out{nullptr, buf};
  size_t forged = 1'000'000'000; // 4 GB of floats announced
  REQUIRE(!out.begin_sequence(forged));
  float two[2] = {1, 2};
  REQUIRE(!out.apply_raw(sizeof two, two)); // 8 bytes follow
  float_vector x;
  caf::binary_deserializer in{nullptr, buf};
  auto err = inspect(in, x);
  CHECK(err == caf::sec::end_of_stream);
  CHECK(x.capacity() < 1024);

  // The same count, truthful, reads back.
  std::vector<char> ok;
  caf::binary_serializer out2{nullptr, ok};
  float_vector two_floats{3, 4};
  REQUIRE(!inspect(out2, two_floats));
  caf::binary_deserializer in2{nullptr, ok};
  REQUIRE(!inspect(in2, x));
  CHECK(x.size() == 2);
}
