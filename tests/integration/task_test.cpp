// The task manager in a node: refusals, retries, timeouts, cancellation (in-process actors on
// a real RocksDB), and recovery after SIGKILL (a real node process).

#include <doctest/doctest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "actors/node_actor.hpp"
#include "protocol/messages.hpp"
#include "runtime/actor_runtime.hpp"
#include "storage/database.hpp"
#include "tasks/task.hpp"
#include "tasks/task_kernels.hpp"
#include "tests/support/audit.hpp"
#include "tests/support/cli_output.hpp"
#include "tests/support/data.hpp"
#include "tests/support/process.hpp"
#include "text/document_reader.hpp"

using namespace p2p;
using namespace p2p::test;

namespace {

constexpr auto timeout = std::chrono::seconds(60);

/// A node in this process.
struct local_node {
  node_config cfg;
  std::unique_ptr<runtime_config> rcfg;
  std::unique_ptr<caf::actor_system> sys;
  caf::actor node;

  explicit local_node(node_config c) : cfg(std::move(c)) {
    std::string error;
    std::shared_ptr<database> db = database::open(cfg.data_dir, cfg.durability, error);
    REQUIRE_MESSAGE(db, error);
    rcfg = std::make_unique<runtime_config>(cfg);
    sys = std::make_unique<caf::actor_system>(*rcfg);
    node = spawn_node(*sys, cfg, db);
  }
  ~local_node() {
    stop_node(*sys, node);
    sys.reset();
  }

  template <class R, class... Ts>
  caf::expected<R> ask(Ts&&... xs) {
    caf::scoped_actor self{*sys};
    caf::expected<R> out{R{}};
    self->request(node, timeout, std::forward<Ts>(xs)...)
      .receive([&](R& r) { out = std::move(r); }, [&](caf::error& e) { out = std::move(e); });
    return out;
  }
};

node_config config_in(const std::string& dir) {
  node_config cfg;
  cfg.data_dir = dir + "/data";
  cfg.dim = 64;
  cfg.workers = 1;
  return cfg;
}

} // namespace

TEST_CASE("tasks of a type no agent offers, or that no kernel runs, are refused by name") {
  local_node n(config_in(fresh_dir("task-refused")));
  auto r = n.ask<std::vector<uint64_t>>(task_atom::value, task_submission{"translate", "", {"x"}, 1, 0, -1});
  REQUIRE_FALSE(r);
  CHECK(error_text(r.error()) == "task refused: no agent offers 'translate'");
  r = n.ask<std::vector<uint64_t>>(task_atom::value, task_submission{"vector_store", "", {"x"}, 1, 0, -1});
  REQUIRE_FALSE(r);
  CHECK(error_text(r.error()).find("no task kernel runs 'vector_store'") != std::string::npos);
}

TEST_CASE("a full queue refuses new tasks instead of growing") {
  auto cfg = config_in(fresh_dir("task-queue-full"));
  cfg.queue_limit = 5;
  local_node n(cfg);
  auto r = n.ask<std::vector<uint64_t>>(task_atom::value,
                                        task_submission{"text_processing", "", std::vector<std::string>(6, "a b"), 1, 0, -1});
  REQUIRE_FALSE(r);
  CHECK(error_text(r.error()) == "task refused: the queue is full (0 of 5 tasks); try again later");
  auto ok = n.ask<task_outcomes>(task_submit_wait_atom::value,
                                 task_submission{"text_processing", "", std::vector<std::string>(5, "a b"), 1, 0, -1});
  REQUIRE(ok);
  CHECK(ok->ids.size() == 5);
}

TEST_CASE("a failing task is retried up to max_retries, then failed with its reason") {
  local_node n(config_in(fresh_dir("task-retry")));
  auto r = n.ask<task_outcomes>(task_submit_wait_atom::value,
                                task_submission{"text_processing", "", {"ok text", "bad \xFF text"}, 1, 0, 2});
  REQUIRE(r);
  CHECK(task_state(r->states[0]) == task_state::completed);
  CHECK(r->attempts[0] == 1);
  CHECK(r->results[0].find("\"words\": 2") != std::string::npos);
  CHECK(task_state(r->states[1]) == task_state::failed);
  CHECK(r->attempts[1] == 3);
  CHECK(r->errors[1] == "invalid UTF-8 at byte 4");
}

TEST_CASE("a task past its timeout is timed out, and a cancelled task stays cancelled") {
  local_node n(config_in(fresh_dir("task-timeout")));
  std::string big;
  while (big.size() < 8'000'000)
    big += "many words to process in this document ";
  auto r = n.ask<task_outcomes>(task_submit_wait_atom::value, task_submission{"text_processing", "", {big}, 1, 1, 0});
  REQUIRE(r);
  CHECK(task_state(r->states[0]) == task_state::timed_out);
  CHECK(r->errors[0] == "timed out after 1 ms");

  auto ids = n.ask<std::vector<uint64_t>>(task_atom::value,
                                          task_submission{"text_processing", "", {big, big, "small"}, 0, 0, -1});
  REQUIRE(ids);
  REQUIRE(ids->size() == 3);
  auto cancelled = n.ask<bool>(task_cancel_atom::value, ids->at(2));
  REQUIRE(cancelled);
  CHECK(*cancelled);
  auto again = n.ask<bool>(task_cancel_atom::value, ids->at(2));
  CHECK_FALSE(*again); // already final
  auto outcomes = n.ask<task_outcomes>(task_wait_atom::value, *ids);
  REQUIRE(outcomes);
  CHECK(task_state(outcomes->states[0]) == task_state::completed);
  CHECK(task_state(outcomes->states[2]) == task_state::cancelled);
  CHECK(outcomes->results[2].empty());
  auto unknown = n.ask<task_outcomes>(task_wait_atom::value, std::vector<uint64_t>{999999});
  REQUIRE_FALSE(unknown);
  CHECK(error_text(unknown.error()) == "no task 999999");
}

TEST_CASE("a node killed with SIGKILL while 10,000 text tasks are in flight completes each of them once after a restart") {
  auto dir = fresh_dir("task-crash");
  {
    std::ofstream out(dir + "/docs.jsonl");
    std::string paragraph;
    for (int w = 0; w < 400; ++w)
      paragraph += "word" + std::to_string(w % 97) + " ";
    for (int i = 0; i < 10000; ++i)
      out << "{\"id\": \"d" << i << "\", \"text\": \"" << paragraph << i << "\"}\n";
  }
  const char* config = R"({"runtime": {"workers": 1, "scheduler_threads": 1}})";
  std::string data_dir;
  uint64_t completed_before = 0;
  {
    node_process node(dir, config);
    data_dir = node.data_dir();
    child process({P2P_AGENT_BIN, "process", "--peer", node.address(), "--input", dir + "/docs.jsonl", "--json"}, dir,
                  "process");
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    bool all_in = false;
    while (std::chrono::steady_clock::now() < deadline && !all_in) {
      auto s = run_agent({"status", "--peer", node.address(), "--json"}, dir);
      if (s.exit_code != 0)
        continue;
      auto q = parse_task_count(s.out, "queued"), r = parse_task_count(s.out, "running"),
           c = parse_task_count(s.out, "completed");
      all_in = q + r + c >= 10000;
      completed_before = c;
    }
    REQUIRE_MESSAGE(all_in, "the 10,000 tasks were not all submitted in time");
    REQUIRE_MESSAGE(completed_before < 10000, "every task finished before the kill");
    node.kill();
    MESSAGE(completed_before << " of 10,000 tasks had completed at the kill");
    process.wait(60);
  }
  {
    node_process node(dir, config);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(180);
    std::string status;
    while (std::chrono::steady_clock::now() < deadline) {
      auto s = run_agent({"status", "--peer", node.address(), "--json"}, dir);
      REQUIRE(s.exit_code == 0);
      status = s.out;
      if (parse_task_count(status, "queued") + parse_task_count(status, "running") == 0)
        break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    REQUIRE_MESSAGE(parse_task_count(status, "queued") + parse_task_count(status, "running") == 0,
                    "tasks still queued or running 180 s after the restart");
    CHECK(parse_task_count(status, "completed") == 10000);
    CHECK(parse_task_count(status, "failed") == 0);
    REQUIRE(node.stop() == 0);
  }
  // Every stored result is what the kernel makes of its payload, run again here; each document
  // (its number ends its text) became one task, none twice.
  auto a = audit_tasks(read_tasks(data_dir), last_word);
  CHECK(a.tasks == 10000);
  CHECK(a.completed == 10000);
  CHECK(a.wrong_results == 0);
  CHECK(a.not_written_once == 0);
  CHECK(a.documents.size() == 10000);
  MESSAGE(a.rerun << " tasks were running at the kill and ran again");
}

TEST_CASE("a critical task submitted behind many low-priority ones runs before them") {
  local_node n(config_in(fresh_dir("task-priority")));
  std::string doc;
  while (doc.size() < 400'000)
    doc += "a document of some length for the worker to chew on ";
  auto low = n.ask<std::vector<uint64_t>>(task_atom::value,
                                          task_submission{"text_processing", "", std::vector<std::string>(80, doc),
                                                          uint8_t(task_priority::low), 0, -1});
  REQUIRE(low);
  auto critical = n.ask<task_outcomes>(task_submit_wait_atom::value,
                                       task_submission{"text_processing", "", {"urgent words"},
                                                       uint8_t(task_priority::critical), 0, -1});
  REQUIRE(critical);
  CHECK(task_state(critical->states[0]) == task_state::completed);
  // In arrival order the critical task would finish after all 80. By priority it passes every
  // low task still queued when it arrives: only those already handed to the workers (one task
  // of 400 KB in flight per worker: work in flight is counted by payload) and those that finished while the client was sending it run first.
  auto status = n.ask<node_status>(status_atom::value);
  REQUIRE(status);
  auto completed = status->task_counts[size_t(task_state::completed)];
  MESSAGE((completed - 1) << " of 80 low-priority tasks completed before the critical one");
  CHECK(completed - 1 < 50);
  CHECK(status->task_counts[size_t(task_state::queued)] + status->task_counts[size_t(task_state::running)]
        + completed == 81);
}
