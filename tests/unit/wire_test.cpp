// What a node reads from the network: counts on the wire are not trusted.

#include <doctest/doctest.h>

#include <caf/all.hpp>

#include <random>
#include <string>

#include "protocol/messages.hpp"
#include "protocol/wire_guard.hpp"

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

TEST_CASE("rows sent from the batch they are in read back as a batch of just those rows, in their order") {
  auto source = std::make_shared<vector_batch>(vector_batch{"c", 2, {"a", "b", "c", "d"}, {}, {"ma", "mb", "mc", "md"},
                                                            {11, 12, 13, 14}});
  source->values = float_vector{1, 2, 3, 4, 5, 6, 7, 8};
  for (bool with_metadata : {true, false}) {
    if (!with_metadata)
      source->metadata.clear();
    batch_rows rows{source, {3, 0, 2}, {}};
    std::vector<char> buf;
    caf::binary_serializer out{nullptr, buf};
    REQUIRE(!inspect(out, rows));
    // What a peer reads, and what a vector_batch of those rows writes: the same bytes.
    vector_batch back;
    caf::binary_deserializer in{nullptr, buf};
    REQUIRE(!inspect(in, back));
    CHECK(in.remaining() == 0);
    CHECK(back.collection == "c");
    CHECK(back.dim == 2);
    CHECK(back.ids == std::vector<std::string>{"d", "a", "c"});
    CHECK(static_cast<std::vector<float>&>(back.values) == std::vector<float>{7, 8, 1, 2, 5, 6});
    CHECK(back.metadata == (with_metadata ? std::vector<std::string>{"md", "ma", "mc"} : std::vector<std::string>{}));
    CHECK(back.versions == std::vector<uint64_t>{14, 11, 13});
    auto copy = subset(*source, rows.rows);
    std::vector<char> expected;
    caf::binary_serializer out2{nullptr, expected};
    REQUIRE(!inspect(out2, copy));
    CHECK(buf == expected);
    // Delivered in the same process, nothing was serialised: take() copies the rows.
    auto local = batch_rows{source, {1}, {}};
    auto taken = std::move(local).take();
    CHECK(taken.ids == std::vector<std::string>{"b"});
    CHECK(static_cast<std::vector<float>&>(taken.values) == std::vector<float>{3, 4});
  }
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

TEST_CASE("the guard finds a message's type string wherever it lies in a payload, as a plain search would") {
  std::mt19937 rng(7);
  auto naive = [](std::string_view s, size_t from) { return s.find("@<>+", from); };
  for (size_t size : {0, 3, 4, 5, 16, 17, 19, 20, 31, 64, 65, 200}) {
    for (int round = 0; round < 60; ++round) {
      // Bytes from a small alphabet that holds the marker's own bytes: near-misses everywhere.
      std::string s(size, ' ');
      for (auto& ch : s)
        ch = "@<>+x"[rng() % 5];
      if (size >= 4 && round % 2 == 0)
        s.replace(rng() % (size - 3), 4, "@<>+");
      for (size_t from = 0; from <= size + 1; ++from)
        REQUIRE(wire_guard::find_type_string(s, from) == naive(s, from));
    }
  }
  // A 2 MB float block with the type string of the message after it, and one of a nested
  // message inside it.
  std::vector<float> floats(512 * 1024);
  for (auto& f : floats)
    f = std::uniform_real_distribution<float>(-4, 4)(rng);
  std::string payload(reinterpret_cast<const char*>(floats.data()), floats.size() * sizeof(float));
  CHECK(wire_guard::find_type_string(payload, 0) == naive(payload, 0));
  payload += "@<>+@u64+@charbuf";
  CHECK(wire_guard::refused_type_in(payload) == "@charbuf");
  payload.replace(777'777, 12, "@<>+@duration");
  CHECK(wire_guard::find_type_string(payload, 0) == 777'777);
  CHECK(wire_guard::refused_type_in(payload) == "@duration");
  CHECK(wire_guard::refused_type_in("@<>+@str+@u32+@atom") == "");
}

TEST_CASE("a float block reads back at every alignment it can have in a message") {
  for (std::string collection : {"a", "ab", "abc", "abcd"}) {
    vector_batch b{collection, 3, {"x"}, {}, {}, {}};
    b.values = float_vector{1.5f, -2.25f, 3e-38f};
    std::vector<char> buf;
    caf::binary_serializer out{nullptr, buf};
    REQUIRE(!inspect(out, b));
    vector_batch back;
    back.values = float_vector{9, 9, 9, 9, 9}; // replaced, not appended to
    caf::binary_deserializer in{nullptr, buf};
    REQUIRE(!inspect(in, back));
    CHECK(in.remaining() == 0);
    CHECK(static_cast<std::vector<float>&>(back.values) == std::vector<float>{1.5f, -2.25f, 3e-38f});
  }
}
