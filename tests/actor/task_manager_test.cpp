// The task manager on CAF's test coordinator: scheduling by priority and load, retries,
// timeouts and peer loss, step by step, with workers that answer when the test says so.

#include <doctest/doctest.h>

#include <deque>
#include <map>
#include <memory>
#include <set>

#include "actors/task_manager.hpp"
#include "storage/database.hpp"
#include "storage/task_store.hpp"
#include "tasks/task.hpp"
#include "tests/actor/actor_fixture.hpp"
#include "tests/support/data.hpp"

using namespace p2p;

namespace {

using release_atom = caf::atom_constant<caf::atom("release")>;

/// What a fake worker saw, and the replies it holds back.
struct worker_log {
  std::vector<std::string> payloads;      // in the order they arrived
  std::vector<size_t> batches;            // the number of tasks in each message
  std::deque<caf::response_promise> held; // silent workers: answered on release_atom
  std::deque<size_t> held_sizes;          // the tasks of each held message
  int failures_left = 0;                  // answering workers: fail this many tasks first
};

void saw(worker_log& log, const task_submission& run) {
  log.payloads.insert(log.payloads.end(), run.payloads.begin(), run.payloads.end());
  log.batches.push_back(run.payloads.size());
}

/// A worker that answers each task "done:PAYLOAD" at once, after failing `failures_left` tasks.
caf::behavior answering_worker(caf::event_based_actor*, std::shared_ptr<worker_log> log) {
  return {[=](run_task_atom, const task_submission& run) {
    saw(*log, run);
    size_t n = run.payloads.size();
    task_outcomes out{{}, byte_vector(n), {}, std::vector<std::string>(n), std::vector<std::string>(n)};
    for (size_t i = 0; i < n; ++i) {
      if (log->failures_left > 0) {
        --log->failures_left;
        out.states[i] = uint8_t(task_state::failed);
        out.errors[i] = "boom";
      } else {
        out.states[i] = uint8_t(task_state::completed);
        out.results[i] = "done:" + run.payloads[i];
      }
    }
    return out;
  }};
}

/// A worker that holds every message until it is sent release_atom (or never); the oldest held
/// message is then answered "released" for each of its tasks.
caf::behavior silent_worker(caf::event_based_actor* self, std::shared_ptr<worker_log> log) {
  return {
    [=](run_task_atom, const task_submission& run) {
      saw(*log, run);
      log->held.push_back(self->make_response_promise());
      log->held_sizes.push_back(run.payloads.size());
    },
    [=](release_atom) {
      if (log->held.empty())
        return;
      auto p = std::move(log->held.front());
      size_t n = log->held_sizes.front();
      log->held.pop_front();
      log->held_sizes.pop_front();
      p.deliver(task_outcomes{{}, byte_vector(n, uint8_t(task_state::completed)), {},
                              std::vector<std::string>(n, "released"), std::vector<std::string>(n)});
    },
  };
}

struct manager_fixture : test::actor_fixture {
  std::shared_ptr<database> db;
  task_manager_actor manager;
  node_config cfg;
  std::shared_ptr<task_board> board = std::make_shared<task_board>(); // what status and /metrics read

  explicit manager_fixture(const std::string& name) {
    std::string error;
    db = database::open(test::fresh_dir("actor-" + name), durability_mode::wal, error);
    REQUIRE_MESSAGE(db, error);
  }

  ~manager_fixture() { manager = nullptr; }

  /// Starts the task manager with these local workers (spawned in this fixture's system).
  void start(std::vector<caf::actor> workers) {
    auto handle = std::make_shared<task_manager_actor>();
    // The handle is a spawn argument (see actor_fixture::request for why).
    spawn(
      [=, cfg = cfg, db = db, board = board](caf::event_based_actor* self,
                                             std::shared_ptr<task_manager_actor> into) -> caf::behavior {
        *into = spawn_task_manager(self, cfg, db, workers, board, actor_thread::scheduler);
        return {[](caf::unit_t) {}};
      },
      handle);
    run();
    manager = *handle;
    REQUIRE(manager);
  }

  /// Makes a silent worker answer its oldest held task, and runs what follows.
  void release(const caf::actor& worker) {
    caf::anon_send(worker, release_atom::value);
    run();
  }

  caf::actor worker(caf::behavior (*kind)(caf::event_based_actor*, std::shared_ptr<worker_log>),
                    std::shared_ptr<worker_log> log) {
    return spawn(kind, std::move(log));
  }

  auto submit(std::vector<std::string> payloads, uint8_t priority = 1, uint32_t timeout_ms = 0) {
    task_submission s{"text_processing", "{}", std::move(payloads), priority, timeout_ms, -1};
    return request<task_outcomes>(manager, task_submit_wait_atom::value, s);
  }

  /// Tells the manager the cluster's peers now are `peers` (id and node actor each).
  void peers(const std::vector<std::pair<std::string, caf::actor>>& peers) {
    std::vector<member_info> infos;
    std::vector<caf::actor> nodes;
    for (auto& [id, node] : peers) {
      member_info m;
      m.id = id;
      m.address = "127.0.0.1:1";
      m.capabilities = {"text_processing"};
      infos.push_back(m);
      nodes.push_back(node);
    }
    caf::anon_send(manager, members_atom::value, infos, nodes);
    run();
  }
};

std::vector<std::string> numbered(const std::string& prefix, size_t n) {
  std::vector<std::string> out;
  for (size_t i = 0; i < n; ++i)
    out.push_back(prefix + std::to_string(i));
  return out;
}

task_state state_of(const task_outcomes& o, size_t i) { return static_cast<task_state>(o.states[i]); }

} // namespace

TEST_CASE("tasks spread over the local workers and each result comes back once, in submission order") {
  manager_fixture f("spread");
  auto a = std::make_shared<worker_log>(), b = std::make_shared<worker_log>();
  f.start({f.worker(answering_worker, a), f.worker(answering_worker, b)});
  auto payloads = numbered("doc-", 40);
  auto r = f.submit(payloads);
  REQUIRE(r->done);
  REQUIRE(r->value);
  auto& o = *r->value;
  REQUIRE(o.ids.size() == 40);
  CHECK(std::set<uint64_t>(o.ids.begin(), o.ids.end()).size() == 40);
  for (size_t i = 0; i < 40; ++i) {
    CHECK(state_of(o, i) == task_state::completed);
    CHECK(o.results[i] == "done:" + payloads[i]);
    CHECK(o.attempts[i] == 1);
  }
  CHECK(a->payloads.size() + b->payloads.size() == 40);
  CHECK(!a->payloads.empty());
  CHECK(!b->payloads.empty());
}

TEST_CASE("a worker holds at most 64 small tasks, sent 32 to a message, and the rest wait until it answers") {
  manager_fixture f("window");
  auto a = std::make_shared<worker_log>();
  auto wa = f.worker(silent_worker, a);
  f.start({wa});
  auto r = f.submit(numbered("doc-", 80));
  CHECK(!r->done);
  CHECK(a->payloads.size() == 64);
  CHECK(a->batches == std::vector<size_t>{32, 32});
  f.release(wa); // 32 answered: the 16 waiting go in one message
  CHECK(a->payloads.size() == 80);
  CHECK(a->batches == std::vector<size_t>{32, 32, 16});
  while (!a->held.empty())
    f.release(wa);
  REQUIRE(r->done);
  REQUIRE(r->value);
  for (size_t i = 0; i < 80; ++i)
    CHECK(state_of(*r->value, i) == task_state::completed);
}

TEST_CASE("the task board that status and /metrics read follows the tasks by state, type and executor") {
  manager_fixture f("board");
  auto a = std::make_shared<worker_log>(), p = std::make_shared<worker_log>();
  auto wa = f.worker(silent_worker, a);
  f.start({wa});
  auto peer_node = f.worker(silent_worker, p);
  f.peers({{"node-2", peer_node}});
  auto state = [&](task_state s) { return f.board->totals()[size_t(s)]; };
  auto r = f.submit(numbered("doc-", 300));
  CHECK(!r->done);
  // The local worker holds 64; the peer 4 x 64 = 256 (its capacity); the rest wait.
  auto m = f.board->metrics();
  REQUIRE(m.executors == std::vector<std::string>{"local", "node-2"});
  CHECK(m.in_flight[0] == a->payloads.size());
  CHECK(m.in_flight[1] == p->payloads.size());
  CHECK(m.in_flight[0] + m.in_flight[1] + state(task_state::queued) == 300);
  CHECK(state(task_state::running) == m.in_flight[0] + m.in_flight[1]);
  REQUIRE(m.types == std::vector<std::string>{"text_processing"});
  CHECK(m.counts[size_t(task_state::running)] == state(task_state::running));
  CHECK(m.latency.count == 0);
  // The peer leaves: its tasks go back to the queue and it is no longer shown.
  f.peers({});
  m = f.board->metrics();
  CHECK(m.executors == std::vector<std::string>{"local"});
  CHECK(m.in_flight[0] == 64);
  while (!a->held.empty())
    f.release(wa);
  REQUIRE(r->done);
  m = f.board->metrics();
  CHECK(m.in_flight == std::vector<uint64_t>{0});
  CHECK(state(task_state::completed) == 300);
  CHECK(state(task_state::queued) + state(task_state::running) == 0);
  CHECK(m.counts[size_t(task_state::completed)] == 300);
  CHECK(m.latency.count == 300);
}

TEST_CASE("a worker holds one large task at a time: work in flight is counted by payload, not by tasks") {
  manager_fixture f("window-bytes");
  auto a = std::make_shared<worker_log>();
  auto wa = f.worker(silent_worker, a);
  f.start({wa});
  // 130 KiB each: 66 units of 2 KiB, past a worker's 64 on its own.
  auto r = f.submit({std::string(130 * 1024, 'a'), std::string(130 * 1024, 'b'), "small"});
  CHECK(a->payloads.size() == 1);
  f.release(wa);
  REQUIRE(a->payloads.size() == 2);
  CHECK(a->payloads[1].front() == 'b');
  f.release(wa);
  REQUIRE(a->payloads.size() == 3);
  CHECK(a->payloads[2] == "small");
  f.release(wa);
  REQUIRE(r->done);
  REQUIRE(r->value);
  CHECK(a->batches == std::vector<size_t>{1, 1, 1});
  for (size_t i = 0; i < 3; ++i)
    CHECK(state_of(*r->value, i) == task_state::completed);
}

TEST_CASE("a critical task submitted behind queued low-priority ones is the next to run") {
  manager_fixture f("priority");
  auto a = std::make_shared<worker_log>();
  auto wa = f.worker(silent_worker, a);
  f.start({wa});
  auto low = f.submit(numbered("low-", 80), uint8_t(task_priority::low));
  auto critical = f.submit({"urgent"}, uint8_t(task_priority::critical));
  REQUIRE(a->payloads.size() == 64); // 16 low tasks and the critical one wait
  f.release(wa);                      // 32 answered: room for the 17 waiting, the critical one first
  REQUIRE(a->payloads.size() == 81);
  CHECK(a->payloads[64] == "urgent");
  CHECK(a->batches == std::vector<size_t>{32, 32, 17}); // in one message, the critical one first
  while (!a->held.empty())
    f.release(wa);
  CHECK(low->done);
  CHECK(critical->done);
}

TEST_CASE("a failing task is retried up to max_retries, then failed with the worker's error") {
  manager_fixture f("retries");
  f.cfg.max_retries = 2;
  auto flaky = std::make_shared<worker_log>(), broken = std::make_shared<worker_log>();
  SUBCASE("one failure, then success") {
    flaky->failures_left = 1;
    f.start({f.worker(answering_worker, flaky)});
    auto r = f.submit({"x"});
    REQUIRE(r->done);
    REQUIRE(r->value);
    CHECK(state_of(*r->value, 0) == task_state::completed);
    CHECK(r->value->attempts[0] == 2);
    CHECK(r->value->results[0] == "done:x");
  }
  SUBCASE("always failing") {
    broken->failures_left = 1000;
    f.start({f.worker(answering_worker, broken)});
    auto r = f.submit({"x"});
    REQUIRE(r->done);
    REQUIRE(r->value);
    CHECK(state_of(*r->value, 0) == task_state::failed);
    CHECK(r->value->attempts[0] == 3); // the first run and two retries
    CHECK(r->value->errors[0] == "boom");
    CHECK(broken->payloads.size() == 3);
  }
}

TEST_CASE("a task past its timeout is timed out, not before") {
  manager_fixture f("timeout");
  auto a = std::make_shared<worker_log>();
  f.start({f.worker(silent_worker, a)});
  auto r = f.submit({"slow"}, 1, 500);
  f.advance(std::chrono::milliseconds(499));
  CHECK(!r->done);
  f.advance(std::chrono::milliseconds(2));
  REQUIRE(r->done);
  REQUIRE(r->value);
  CHECK(state_of(*r->value, 0) == task_state::timed_out);
  CHECK(r->value->errors[0] == "timed out after 500 ms");
}

TEST_CASE("tasks running on a peer that leaves run again on another peer, the attempt counted") {
  manager_fixture f("peer-loss");
  f.start({}); // no local workers: every task runs on a peer
  auto lost = std::make_shared<worker_log>(), other = std::make_shared<worker_log>();
  auto lost_node = f.worker(silent_worker, lost);
  f.peers({{"node-2", lost_node}});
  auto r = f.submit(numbered("doc-", 3));
  CHECK(lost->payloads.size() == 3);
  CHECK(!r->done);
  f.peers({{"node-3", f.worker(answering_worker, other)}}); // node-2 is gone
  REQUIRE(r->done);
  REQUIRE(r->value);
  CHECK(other->payloads.size() == 3);
  for (size_t i = 0; i < 3; ++i) {
    CHECK(state_of(*r->value, i) == task_state::completed);
    CHECK(r->value->attempts[i] == 2);
    CHECK(r->value->results[i] == "done:doc-" + std::to_string(i));
  }
  // node-2's late answers change nothing.
  while (!lost->held.empty())
    f.release(lost_node);
  CHECK(r->value->results[0] == "done:doc-0");
}

TEST_CASE("one failing task of a batch is retried alone, and the others of its message complete once") {
  manager_fixture f("batch-failure");
  auto a = std::make_shared<worker_log>();
  a->failures_left = 1; // the first task of the first message fails once
  f.start({f.worker(answering_worker, a)});
  auto payloads = numbered("doc-", 8);
  auto r = f.submit(payloads);
  REQUIRE(r->done);
  REQUIRE(r->value);
  CHECK(a->batches == std::vector<size_t>{8, 1});
  CHECK(a->payloads.back() == "doc-0");
  for (size_t i = 0; i < 8; ++i) {
    CHECK(state_of(*r->value, i) == task_state::completed);
    CHECK(r->value->results[i] == "done:" + payloads[i]);
    CHECK(r->value->attempts[i] == (i == 0 ? 2u : 1u));
  }
}

TEST_CASE("large payloads travel in smaller batches: at most 64 KiB of payload to a message") {
  manager_fixture f("batch-bytes");
  auto a = std::make_shared<worker_log>();
  f.start({f.worker(answering_worker, a)});
  std::vector<std::string> payloads{std::string(40 * 1024, 'a'), std::string(40 * 1024, 'b'),
                                    std::string(100 * 1024, 'c'), "small", "small"};
  auto r = f.submit(payloads);
  REQUIRE(r->done);
  REQUIRE(r->value);
  // 40 KiB, then 40 KiB alone (80 would pass 64), 100 KiB alone, then the two small ones.
  CHECK(a->batches == std::vector<size_t>{1, 1, 1, 2});
  for (size_t i = 0; i < payloads.size(); ++i)
    CHECK(r->value->results[i] == "done:" + payloads[i]);
}

TEST_CASE("tasks submitted to run later are written, and tasks whose submitter waits are held in memory only") {
  manager_fixture f("durable");
  auto a = std::make_shared<worker_log>();
  auto wa = f.worker(silent_worker, a);
  f.start({wa});
  auto later = f.request<std::vector<uint64_t>>(f.manager, task_atom::value,
                                                task_submission{"text_processing", "{}", {"kept"}, 1, 0, -1});
  auto waited = f.submit({"answered"});
  REQUIRE(later->done);
  REQUIRE(later->value);
  REQUIRE(a->payloads.size() == 2);
  task_store store(f.db);
  auto stored = store.get(later->value->at(0));
  REQUIRE(stored);
  CHECK(stored->state == task_state::running);
  size_t records = 0;
  (void) store.scan([&](task_record&&) { ++records; });
  CHECK(records == 1); // the waited-for task is nowhere on disk
  while (!a->held.empty())
    f.release(wa);
  REQUIRE(waited->done);
  REQUIRE(waited->value);
  CHECK(state_of(*waited->value, 0) == task_state::completed);
  CHECK(waited->value->results[0] == "released");
  auto done = store.get(later->value->at(0));
  REQUIRE(done);
  CHECK(done->state == task_state::completed);
  CHECK(done->result == "released");
  // Its answer was its acknowledgement: once given, the waited-for task is gone.
  auto again = f.request<task_outcomes>(f.manager, task_wait_atom::value, waited->value->ids);
  REQUIRE(again->done);
  CHECK(!again->value);
}
