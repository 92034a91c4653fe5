#include <doctest/doctest.h>

#include <thread>
#include <vector>

#include "actors/collection_board.hpp"
#include "config/node_config.hpp"
#include "vectors/index_slots.hpp"

using namespace p2p;

TEST_CASE("index slots: takers past the limit wait and are woken in order, one per slot given back") {
  index_slots slots(2);
  std::vector<int> woken;
  CHECK(slots.take([&] { woken.push_back(1); return true; }));
  CHECK(slots.take([&] { woken.push_back(2); return true; }));
  CHECK_FALSE(slots.take([&] { woken.push_back(3); return true; }));
  CHECK_FALSE(slots.take([&] { woken.push_back(4); return true; }));
  CHECK(slots.load() == std::pair<uint32_t, size_t>{2, 2});
  CHECK(woken.empty()); // the ones that got a slot are never called

  slots.give_back();
  CHECK(woken == std::vector<int>{3});
  CHECK(slots.load() == std::pair<uint32_t, size_t>{1, 1});
  // The woken one takes its slot again (its next step); the other still waits.
  CHECK(slots.take([&] { woken.push_back(30); return true; }));
  CHECK_FALSE(slots.take([&] { woken.push_back(5); return true; }));
  slots.give_back();
  slots.give_back();
  CHECK(woken == std::vector<int>{3, 4, 5});
  CHECK(slots.load() == std::pair<uint32_t, size_t>{0, 0});
  // Nobody waits: a slot given back wakes nobody, and the next take gets one at once.
  CHECK(slots.take([&] { woken.push_back(6); return true; }));
  slots.give_back();
  CHECK(woken == std::vector<int>{3, 4, 5});
}

TEST_CASE("index slots: a waiter that is gone is passed over, and the slot goes to the next") {
  index_slots slots(1);
  std::vector<int> woken;
  CHECK(slots.take([&] { woken.push_back(1); return true; }));
  CHECK_FALSE(slots.take([&] { woken.push_back(2); return false; })); // stopped meanwhile
  CHECK_FALSE(slots.take([&] { woken.push_back(3); return true; }));
  slots.give_back();
  CHECK(woken == std::vector<int>{2, 3});
  CHECK(slots.load() == std::pair<uint32_t, size_t>{0, 0});
}

TEST_CASE("index slots: a limit of 0 is taken as 1") {
  index_slots slots(0);
  CHECK(slots.limit() == 1);
  CHECK(slots.take([] { return true; }));
  CHECK_FALSE(slots.take([] { return true; }));
}

TEST_CASE("index slots: threads that take and give back never run more steps at once than the limit, and none is left waiting") {
  index_slots slots(2);
  std::atomic<int> running{0}, most{0}, steps{0};
  auto step = [&] {
    int now = ++running;
    for (int seen = most.load(); now > seen && !most.compare_exchange_weak(seen, now);) {
    }
    ++steps;
    --running;
    slots.give_back();
  };
  // Each thread wants 2,000 steps; a waker only counts that its thread may go on: the thread
  // takes again as if its actor had been sent its next step.
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 2000; ++i) {
        std::atomic<bool> woken{false};
        while (!slots.take([&woken] { return woken = true; })) {
          while (!woken)
            std::this_thread::yield();
          woken = false;
        }
        step();
      }
    });
  for (auto& t : threads)
    t.join();
  CHECK(steps == 8000);
  CHECK(most <= 2);
  CHECK(slots.load() == std::pair<uint32_t, size_t>{0, 0});
}

TEST_CASE("vectors.index_threads: 0 leaves one scheduler thread to the rest, at least one for the graphs") {
  node_config cfg;
  cfg.scheduler_threads = 2;
  CHECK(cfg.graph_threads() == 1);
  cfg.scheduler_threads = 16;
  CHECK(cfg.graph_threads() == 15);
  cfg.scheduler_threads = 1;
  CHECK(cfg.graph_threads() == 1);
  cfg.index_threads = 3;
  CHECK(cfg.graph_threads() == 3);
}

TEST_CASE("the collection board shows the node's index slots: limit, busy and waiting shards") {
  collection_board board;
  // Before the router puts the slots up: nothing to show.
  auto none = board.index_slots_load();
  CHECK(none.threads == 0);
  CHECK(none.busy == 0);
  CHECK(none.waiting == 0);

  auto slots = std::make_shared<index_slots>(2);
  board.attach_slots(slots);
  CHECK(board.index_slots_load().threads == 2);
  CHECK(board.index_slots_load().busy == 0);
  CHECK(slots->take([] { return true; }));
  CHECK(slots->take([] { return true; }));
  CHECK_FALSE(slots->take([] { return true; }));
  auto full = board.index_slots_load();
  CHECK(full.threads == 2);
  CHECK(full.busy == 2);
  CHECK(full.waiting == 1);
  slots->give_back(); // wakes the waiter, which has not taken its slot yet
  auto after = board.index_slots_load();
  CHECK(after.busy == 1);
  CHECK(after.waiting == 0);
}
