// The vector router on CAF's test coordinator: the scatter and merge of searches over its
// shards (real RocksDB in a scratch directory), a peer that takes its share of the vectors when
// it joins, and a peer that stops answering.

#include <doctest/doctest.h>

#include <algorithm>
#include <set>
#include <thread>

#include "actors/vector_router.hpp"
#include "perf/harness/datasets.hpp"
#include "storage/database.hpp"
#include "tests/actor/actor_fixture.hpp"
#include "tests/support/data.hpp"
#include "vectors/placement.hpp"

using namespace p2p;

namespace {

constexpr uint32_t dim = 8;

/// What the fake peer saw, and the searches it holds unanswered.
struct peer_log {
  std::vector<std::string> stored; // ids handed to it
  std::vector<caf::response_promise> held;
};

/// A peer's node that stores whatever it is sent and never answers a search.
caf::behavior silent_peer(caf::event_based_actor* self, std::shared_ptr<peer_log> log) {
  return {
    [=](cluster_put_atom, const collection_spec&, const vector_batch& b) { // a handoff
      log->stored.insert(log->stored.end(), b.ids.begin(), b.ids.end());
      return uint64_t(b.ids.size());
    },
    [=](cluster_put_atom, const collection_spec&, batch_rows& r) { // a put's rows
      auto b = std::move(r).take();
      log->stored.insert(log->stored.end(), b.ids.begin(), b.ids.end());
      return uint64_t(b.ids.size());
    },
    [=](cluster_search_atom, const collection_spec&, const search_request&) {
      log->held.push_back(self->make_response_promise());
    },
    [=](cluster_get_atom, const collection_spec&, const std::string&) {
      log->held.push_back(self->make_response_promise());
    },
  };
}

struct router_fixture : test::actor_fixture {
  std::shared_ptr<database> db;
  caf::actor router;
  node_config cfg;
  std::vector<float> base = test::random_vectors(300, dim, 11);

  /// One copy of each vector unless `replicas` says otherwise.
  explicit router_fixture(const std::string& name, uint32_t replicas = 1) {
    cfg.id = "node-1";
    cfg.dim = dim;
    cfg.shards = 3;
    cfg.replication_factor = replicas;
    std::string error;
    db = database::open(test::fresh_dir("actor-router-" + name), durability_mode::wal, error);
    REQUIRE_MESSAGE(db, error);
    router = spawn_router(cfg, db);
  }

  /// A router of its own (a node's), on `db`.
  caf::actor spawn_router(const node_config& c, std::shared_ptr<database> on) {
    auto handle = std::make_shared<caf::actor>();
    spawn(
      [c, on](caf::event_based_actor* self, std::shared_ptr<caf::actor> into) -> caf::behavior {
        *into = spawn_vector_router(self, c, on);
        return {[](caf::unit_t) {}};
      },
      handle);
    run();
    REQUIRE(*handle);
    return *handle;
  }

  ~router_fixture() { router = nullptr; }

  /// Stores the 300 base vectors as ids "0".."299"; how many the router acknowledged.
  uint64_t put_base() {
    vector_batch b{"docs", dim, {}, std::vector<float>(base), {}, {}};
    for (size_t i = 0; i < 300; ++i)
      b.ids.push_back(std::to_string(i));
    auto r = request<uint64_t>(router, put_atom::value, b);
    REQUIRE(r->done);
    REQUIRE_MESSAGE(r->value, error_text(r->value.error()));
    return *r->value;
  }

  search_request exact_search(const std::vector<float>& queries, uint32_t k) {
    search_request req;
    req.collection = "docs";
    req.dim = dim;
    req.queries = std::vector<float>(queries);
    req.k = k;
    req.exact = true;
    return req;
  }

  /// The peer `id` (3 shards) is dropped without leaving: the router sees it down.
  void drop_peer(const std::string& id) {
    member_info m;
    m.id = id;
    m.capabilities = {"vector_store"};
    m.shards = {0, 1, 2};
    m.state = "down";
    caf::anon_send(router, members_atom::value, std::vector<member_info>{m}, std::vector<caf::actor>{caf::actor{}});
    run();
  }

  /// A silent peer with 3 shards and the vector_store capability joins; what it sees.
  std::shared_ptr<peer_log> join_silent_peer(const std::string& id) {
    auto log = std::make_shared<peer_log>();
    member_info m;
    m.id = id;
    m.capabilities = {"vector_store"};
    m.shards = {0, 1, 2};
    caf::anon_send(router, members_atom::value, std::vector<member_info>{m},
                   std::vector<caf::actor>{spawn(silent_peer, log)});
    run();
    return log;
  }

  uint64_t stored_here() { return stored_at(router); }

  uint64_t stored_at(const caf::actor& r_) {
    auto r = request<std::vector<collection_info>>(r_, stats_atom::value);
    REQUIRE(r->done);
    REQUIRE(r->value);
    uint64_t n = 0;
    for (auto& c : *r->value)
      n += c.count;
    return n;
  }
};

} // namespace

TEST_CASE("an exact search over three shards returns each query's true top 10, each id once") {
  router_fixture f("merge");
  CHECK(f.put_base() == 300);
  auto queries = test::random_vectors(20, dim, 12);
  auto r = f.request<search_result>(f.router, search_atom::value, f.exact_search(queries, 10));
  REQUIRE(r->done);
  REQUIRE_MESSAGE(r->value, error_text(r->value.error()));
  auto& out = *r->value;
  REQUIRE(out.counts.size() == 20);
  auto kth = test::kth_best_similarity(metric_kind::cosine, f.base, queries, dim, 10);
  size_t at = 0;
  for (size_t q = 0; q < 20; ++q) {
    CAPTURE(q);
    REQUIRE(out.counts[q] == 10);
    std::set<std::string> ids(out.ids.begin() + at, out.ids.begin() + at + 10);
    CHECK(ids.size() == 10);
    for (size_t j = 0; j < 10; ++j) {
      size_t row = std::stoul(out.ids[at + j]);
      CHECK(test::naive_similarity(metric_kind::cosine, &queries[q * dim], &f.base[row * dim], dim) >= kth[q] - 1e-5);
      if (j > 0)
        CHECK(out.scores[at + j] <= out.scores[at + j - 1]); // best first
    }
    at += 10;
  }
}

TEST_CASE("a joining peer receives exactly the vectors it now owns, and they leave this node") {
  router_fixture f("handoff");
  f.put_base();
  auto log = f.join_silent_peer("node-2");
  replica_table nodes({"node-1", "node-2"}, 1);
  std::set<std::string> expected;
  for (size_t i = 0; i < 300; ++i)
    if (nodes.nodes()[*nodes.begin(vshard_of(std::to_string(i)))] == "node-2")
      expected.insert(std::to_string(i));
  REQUIRE(!expected.empty());
  std::set<std::string> moved(log->stored.begin(), log->stored.end());
  CHECK(moved.size() == log->stored.size()); // none sent twice
  CHECK(moved == expected);
  CHECK(f.stored_here() == 300 - expected.size());
}

TEST_CASE("a search that a silent peer does not answer fails at the peer timeout, not before") {
  router_fixture f("silent-peer");
  f.put_base();
  auto log = f.join_silent_peer("node-2");
  auto r = f.request<search_result>(f.router, search_atom::value, f.exact_search(test::random_vectors(1, dim, 13), 5));
  CHECK(log->held.size() == 1);
  f.advance(std::chrono::seconds(59));
  CHECK_FALSE(r->done);
  f.advance(std::chrono::seconds(2));
  REQUIRE(r->done);
  REQUIRE_FALSE(r->value);
  CHECK(code_of(r->value.error()) == errc::timeout);
}

TEST_CASE("requests waiting on a peer are answered at once when the peer is dropped, not at their timeout") {
  router_fixture f("dropped-peer");
  f.put_base();
  auto log = f.join_silent_peer("node-2");
  // An id the peer owns now.
  replica_table placement({"node-1", "node-2"}, 1);
  std::string theirs;
  for (size_t i = 0; theirs.empty(); ++i)
    if (*placement.begin(vshard_of(std::to_string(i))) == 1)
      theirs = std::to_string(i);
  uint32_t theirs_shards = 0;
  for (uint32_t v = 0; v < virtual_shards; ++v)
    theirs_shards += placement.holds(1, v);
  auto search = f.request<search_result>(f.router, search_atom::value, f.exact_search(test::random_vectors(1, dim, 14), 5));
  auto get = f.request<vector_record>(f.router, get_atom::value, std::string("docs"), theirs);
  CHECK(log->held.size() == 2);
  f.advance(std::chrono::seconds(1));
  CHECK_FALSE(search->done);
  CHECK_FALSE(get->done);
  f.drop_peer("node-2");
  REQUIRE(search->done);
  REQUIRE(get->done);
  // The search ran again without node-2 at once: what only node-2 holds is named as missing.
  REQUIRE(search->value);
  CHECK(search->value->missing_shards == theirs_shards);
  CHECK(search->value->missing_nodes == std::vector<std::string>{"node-2"});
  REQUIRE_FALSE(get->value);
  CHECK(code_of(get->value.error()) == errc::unavailable);
  // Afterwards the down peer's keys answer unavailable at once, and a search says what it missed.
  auto later = f.request<vector_record>(f.router, get_atom::value, std::string("docs"), theirs);
  REQUIRE(later->done);
  REQUIRE_FALSE(later->value);
  CHECK(error_text(later->value.error()) == "vector '" + theirs + "' is on node-2, which is down: unavailable until it is back");
  auto partial = f.request<search_result>(f.router, search_atom::value, f.exact_search(test::random_vectors(1, dim, 15), 5));
  REQUIRE(partial->done);
  REQUIRE(partial->value);
  CHECK(partial->value->missing_shards == theirs_shards);
  CHECK(partial->value->missing_nodes == std::vector<std::string>{"node-2"});
}

namespace {

std::vector<float> base_row(const router_fixture& f, size_t row) {
  return std::vector<float>(f.base.begin() + row * dim, f.base.begin() + (row + 1) * dim);
}

/// Tells `router` its only peer is `id`, reachable through `peer` (null: down).
void see_peer(router_fixture& f, const caf::actor& router, const std::string& id, const caf::actor& peer) {
  member_info m;
  m.id = id;
  m.capabilities = {"vector_store"};
  m.shards = {0, 1, 2};
  m.state = peer ? "alive" : "down";
  caf::anon_send(router, members_atom::value, std::vector<member_info>{m}, std::vector<caf::actor>{peer});
  f.run();
  f.advance(std::chrono::seconds(2)); // a catch-up round starts once the members settle
}

/// A second router, node-2, on a database of its own; it and the fixture's router see each other.
caf::actor second_replica(router_fixture& f, const std::string& name) {
  std::string error;
  auto cfg_b = f.cfg;
  cfg_b.id = "node-2";
  std::shared_ptr<database> db_b = database::open(test::fresh_dir("actor-router-" + name), durability_mode::wal, error);
  REQUIRE_MESSAGE(db_b, error);
  auto b = f.spawn_router(cfg_b, db_b);
  see_peer(f, f.router, "node-2", b);
  see_peer(f, b, "node-1", f.router);
  return b;
}

} // namespace

TEST_CASE("two replicas: writes and deletes made while one was down reach it when it returns, newest version winning") {
  router_fixture f("replica-a", 2);
  auto b = second_replica(f, "replica-b");
  f.put_base();
  CHECK(f.stored_at(f.router) == 300);
  CHECK(f.stored_at(b) == 300); // two nodes, two copies: each holds all

  // node-2 goes down (for node-1); node-1 takes new versions of 0..49, deletes 50..59 and new ids.
  see_peer(f, f.router, "node-2", caf::actor{});
  auto newer = test::random_vectors(100, dim, 12);
  vector_batch upd{"docs", dim, {}, std::vector<float>(newer), {}, {}};
  for (size_t i = 0; i < 100; ++i)
    upd.ids.push_back(i < 50 ? std::to_string(i) : std::to_string(300 + i));
  auto put = f.request<uint64_t>(f.router, put_atom::value, upd);
  REQUIRE(put->done);
  REQUIRE_MESSAGE(put->value, error_text(put->value.error()));
  for (size_t i = 50; i < 60; ++i) {
    auto del = f.request<bool>(f.router, delete_atom::value, std::string("docs"), std::to_string(i));
    REQUIRE(del->done);
    REQUIRE(del->value);
    CHECK(*del->value);
  }
  CHECK(f.stored_at(b) == 300); // it missed them
  // The digests differ in the virtual shards the missed writes fall in, and only there.
  std::set<uint32_t> touched;
  for (auto& id : upd.ids)
    touched.insert(vshard_of(id));
  for (size_t i = 50; i < 60; ++i)
    touched.insert(vshard_of(std::to_string(i)));
  auto before_a = f.request<std::vector<uint64_t>>(f.router, sync_digest_atom::value, std::string("docs"));
  auto before_b = f.request<std::vector<uint64_t>>(b, sync_digest_atom::value, std::string("docs"));
  REQUIRE(before_a->done);
  REQUIRE(before_b->done);
  REQUIRE(before_a->value);
  REQUIRE(before_b->value);
  REQUIRE(before_a->value->size() == virtual_shards);
  for (uint32_t v = 0; v < virtual_shards; ++v)
    CHECK_MESSAGE(((*before_a->value)[v] != (*before_b->value)[v]) == (touched.count(v) == 1), v);

  // node-2 returns: it sees node-1 arrive and pulls what node-1 holds newer.
  see_peer(f, b, "node-1", caf::actor{});
  see_peer(f, b, "node-1", f.router);
  see_peer(f, f.router, "node-2", b);
  CHECK(f.stored_at(b) == 300 - 10 + 50);
  CHECK(f.stored_at(f.router) == 340);
  // Asked of node-2 alone (cluster_get reads its own shards): the new versions and the deletes.
  collection_spec spec{"docs", dim, uint8_t(metric_kind::cosine)};
  for (size_t i : {0, 49, 350, 399}) {
    auto id = i < 50 ? std::to_string(i) : std::to_string(i);
    auto r = f.request<vector_record>(b, cluster_get_atom::value, spec, id);
    REQUIRE(r->done);
    REQUIRE_MESSAGE(r->value, id);
    size_t row = i < 50 ? i : i - 300;
    CHECK(std::vector<float>(r->value->values) == std::vector<float>(newer.begin() + row * dim, newer.begin() + (row + 1) * dim));
  }
  for (size_t i = 50; i < 60; ++i) {
    auto r = f.request<vector_record>(b, cluster_get_atom::value, spec, std::to_string(i));
    REQUIRE(r->done);
    REQUIRE_FALSE(r->value);
    CHECK(code_of(r->value.error()) == errc::not_found);
  }
  // Both now hold the same (id, version) pairs: equal digests in every virtual shard.
  auto da = f.request<std::vector<uint64_t>>(f.router, sync_digest_atom::value, std::string("docs"));
  auto db = f.request<std::vector<uint64_t>>(b, sync_digest_atom::value, std::string("docs"));
  REQUIRE(da->done);
  REQUIRE(db->done);
  REQUIRE(da->value);
  REQUIRE(db->value);
  CHECK(*da->value == *db->value);

  // An old version arriving late (a retry, a handoff) changes nothing.
  vector_batch stale{"docs", dim, {"0"}, std::vector<float>(base_row(f, 0)), {""}, {1}};
  auto late = f.request<uint64_t>(b, cluster_put_atom::value, spec, stale);
  REQUIRE(late->done);
  REQUIRE(late->value);
  auto r0 = f.request<vector_record>(b, cluster_get_atom::value, spec, std::string("0"));
  REQUIRE(r0->done);
  REQUIRE(r0->value);
  CHECK(std::vector<float>(r0->value->values) == std::vector<float>(newer.begin(), newer.begin() + dim));
}

TEST_CASE("replicas that differ without any member change converge by the periodic digest comparison") {
  router_fixture f("entropy-a", 2);
  auto b = second_replica(f, "entropy-b");
  f.put_base();
  // node-1 alone thinks node-2 down (a one-sided partition) and takes new versions of 0..9;
  // node-2 sees no change at all.
  see_peer(f, f.router, "node-2", caf::actor{});
  auto newer = test::random_vectors(10, dim, 21);
  vector_batch upd{"docs", dim, {}, std::vector<float>(newer), {}, {}};
  for (size_t i = 0; i < 10; ++i)
    upd.ids.push_back(std::to_string(i));
  auto put = f.request<uint64_t>(f.router, put_atom::value, upd);
  REQUIRE(put->done);
  REQUIRE(put->value);
  collection_spec spec{"docs", dim, uint8_t(metric_kind::cosine)};
  auto old = f.request<vector_record>(b, cluster_get_atom::value, spec, std::string("3"));
  REQUIRE(old->done);
  REQUIRE(old->value);
  CHECK(std::vector<float>(old->value->values) == base_row(f, 3)); // node-2 missed it
  // Within one anti-entropy interval (and the settling after it) node-2 has pulled the new ones.
  f.advance(std::chrono::seconds(31)); // the interval is 30 s (actors/vector_router_state.hpp)
  f.advance(std::chrono::seconds(2));
  for (size_t i : {0, 3, 9}) {
    auto r = f.request<vector_record>(b, cluster_get_atom::value, spec, std::to_string(i));
    REQUIRE(r->done);
    REQUIRE(r->value);
    CHECK(std::vector<float>(r->value->values) == std::vector<float>(newer.begin() + i * dim, newer.begin() + (i + 1) * dim));
  }
}

TEST_CASE("a put that RocksDB would stall waits in its shard, which keeps answering, and is written once flushes resume") {
  router_fixture f("stall-base");
  // A router of its own with wide rows (16 KiB each), so that a few batches fill RocksDB's
  // memtables (3 of 16 MiB) while its flushes are paused: the next write would stall.
  node_config c = f.cfg;
  c.dim = 4096;
  c.hnsw.m = 4; // the test scheduler builds the graphs to the end at every run(): keep it cheap
  c.hnsw.ef_construction = 8;
  std::string error;
  std::shared_ptr<database> db = database::open(test::fresh_dir("actor-router-stall"), durability_mode::wal, error);
  REQUIRE_MESSAGE(db, error);
  auto router = f.spawn_router(c, db);
  REQUIRE(db->pause_background_work().ok());
  auto batch = [&](size_t b) {
    vector_batch v{"wide", c.dim, {}, std::vector<float>(size_t(1000) * c.dim, 0.5f), {}, {}};
    for (size_t i = 0; i < 1000; ++i) {
      v.ids.push_back(std::to_string(b * 1000 + i));
      v.values[i * c.dim + i % c.dim] = 1.0f; // distinct rows
    }
    return v;
  };
  auto count = [&] {
    auto r = f.request<std::vector<collection_info>>(router, stats_atom::value);
    REQUIRE(r->done); // answered at once, held puts or not
    REQUIRE(r->value);
    uint64_t n = 0;
    for (auto& info : *r->value)
      n += info.count;
    return n;
  };
  size_t sent = 0;
  std::shared_ptr<test::actor_fixture::reply<uint64_t>> held;
  for (; sent < 12 && !held; ++sent) { // 12 batches are 192 MiB: far past 3 memtables
    auto r = f.request<uint64_t>(router, put_atom::value, batch(sent));
    if (!r->done)
      held = r;
    else
      REQUIRE_MESSAGE(r->value, error_text(r->value.error()));
  }
  REQUIRE_MESSAGE(held, "no put was held back with flushes paused");
  uint64_t before = count();
  CHECK(before == (sent - 1) * 1000);      // the batches written; the held one not yet
  f.advance(std::chrono::milliseconds(50)); // retries while the stall lasts change nothing
  CHECK_FALSE(held->done);
  REQUIRE(db->continue_background_work().ok());
  for (int i = 0; i < 2000 && !held->done; ++i) { // bounded: the flush runs in RocksDB's threads
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    f.advance(std::chrono::milliseconds(5));
  }
  REQUIRE(held->done);
  REQUIRE_MESSAGE(held->value, error_text(held->value.error()));
  CHECK(*held->value == 1000);
  CHECK(count() == sent * 1000);
}
