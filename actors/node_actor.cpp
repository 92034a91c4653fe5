#include "actors/node_actor.hpp"
#include "actors/counted_actor.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <deque>
#include <functional>
#include <map>
#include <thread>

#include "protocol/messages.hpp"
#include "actors/agent.hpp"
#include "actors/collection_board.hpp"
#include "actors/pass_on.hpp"
#include "actors/membership.hpp"
#include "actors/task_manager.hpp"
#include "actors/text_worker.hpp"
#include "actors/vector_router.hpp"
#include "core/counters.hpp"
#include "core/log.hpp"
#include "core/process_stats.hpp"
#include "storage/database.hpp"
#include "text/document_reader.hpp"

namespace p2p {

namespace {

constexpr auto internal_timeout = std::chrono::seconds(120);
/// Once a second, a run of messages (send_many) checks that answers still come.
using run_check_atom = caf::atom_constant<caf::atom("run_check")>;
/// The part of a metrics deadline given to its status part (metrics waits for status).
constexpr uint32_t status_share_of_deadline_pct = 60;
/// Largest message text an agent accepts.
constexpr size_t max_message_bytes = 1 << 20;

struct node_state {
  node_config cfg;
  caf::actor router;
  std::vector<text_worker_actor> workers;
  size_t next_worker = 0;
  task_manager_actor tasks;
  caf::actor membership;
  std::function<void(const std::string&)> stop; // "" stops cleanly, else a failure
  std::map<std::string, caf::actor> agents; // by name
  struct peer_agent {
    caf::actor node;  // the peer's node it was asked of
    caf::actor agent;
  };
  // Agents of peers sent to, by "PEER/AGENT"; dropped when their peer is down or another process.
  std::map<std::string, peer_agent> peer_agents;
  // agent messages delivered to an agent here (counted by the agents: some come straight to them)
  std::shared_ptr<std::atomic<uint64_t>> messages_in = std::make_shared<std::atomic<uint64_t>>(0);
  uint64_t messages_out = 0; // agent messages sent on to a peer

  const text_worker_actor& worker() { return workers[next_worker++ % workers.size()]; }
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  uint64_t started_unix = uint64_t(std::chrono::duration_cast<std::chrono::seconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count());
  std::shared_ptr<database> db;
  // What the router and shards, and the task manager, keep current for status to read at once.
  std::shared_ptr<collection_board> board = std::make_shared<collection_board>();
  std::shared_ptr<p2p::task_board> tasks_board = std::make_shared<p2p::task_board>();
  // The last answer of each part of status and metrics, for a part that is late.
  struct last_parts {
    std::vector<member_info> members;
  } last;
  // Deadlines of status and metrics answers in progress, by id (control_deadline_atom).
  std::map<uint64_t, std::function<void()>> deadlines;
  uint64_t next_deadline = 0;
  static inline const char* name = "node";
};

using node_actor = counted<caf::stateful_actor<node_state>>;

std::string agent_names(const node_state& st) {
  std::string out;
  for (auto& [name, _] : st.agents)
    out += (out.empty() ? "" : ", ") + name;
  return out;
}

/// Hands the current request to a peer's agent, which answers the sender itself (`{"sent": true}`
/// for a one-way message, at once): no answer passes through here, and no timer is set per
/// message. A kept handle goes when the members change and its peer is down or another process.
void to_peer_agent(node_actor* self, const caf::actor& target, const std::string& agent, const std::string& from,
                   std::string text, bool one_way, caf::typed_response_promise<std::string>& rp) {
  ++self->state.messages_out;
  rp.delegate(target, deliver_atom::value, agent, from, std::move(text), one_way);
}

/// Asks the peer's node for the agent's handle, keeps it, and hands the request to it.
void find_peer_agent(node_actor* self, const std::string& to, const std::string& agent, const std::string& from,
                     std::string text, bool one_way, caf::typed_response_promise<std::string> rp) {
  auto peer = to.substr(0, to.find('/'));
  self->request(self->state.membership, internal_timeout, lookup_atom::value, peer)
    .then(
      [=](caf::actor& node) mutable {
        self->request(node, internal_timeout, deliver_atom::value, agent)
          .then(
            [=](caf::actor& target) mutable {
              self->state.peer_agents[to] = {node, target};
              to_peer_agent(self, target, agent, from, std::move(text), one_way, rp);
            },
            [rp](caf::error& e) mutable { rp.deliver(std::move(e)); });
      },
      [rp](caf::error& e) mutable { rp.deliver(std::move(e)); });
}

/// Routes a message to PEER/AGENT: delivered here when PEER is this node, else sent straight to
/// that peer's agent (its handle asked of the peer's node the first time). The reply comes from
/// the agent (request/response) or says it has the message (one-way).
caf::result<std::string> send_message(node_actor* self, const std::string& to, const std::string& from,
                                      std::string text, bool one_way) {
  auto slash = to.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == to.size())
    return make_error(errc::usage, "--to: expected PEER_ID/AGENT, got '" + to + "'");
  auto peer = to.substr(0, slash), agent = to.substr(slash + 1);
  if (text.size() > max_message_bytes)
    return make_error(errc::invalid_input, "message of " + std::to_string(text.size()) + " bytes refused: over the limit of "
                           + std::to_string(max_message_bytes) + " bytes");
  if (peer == self->state.cfg.id)
    return pass_on<std::string>(self, caf::actor_cast<caf::actor>(self), deliver_atom::value, agent, from, std::move(text), one_way);
  auto rp = self->make_response_promise<std::string>();
  if (auto it = self->state.peer_agents.find(to); it != self->state.peer_agents.end())
    to_peer_agent(self, it->second.agent, agent, from, std::move(text), one_way, rp);
  else
    find_peer_agent(self, to, agent, from, std::move(text), one_way, rp);
  return rp;
}

/// Limits of a run of messages that starts here (send_many).
constexpr uint64_t max_messages_per_run = 100'000'000;
constexpr uint32_t max_messages_in_flight = 65536;
constexpr uint64_t max_latencies_kept = 1'000'000;

/// What the sender's clock saw over a run of messages, as JSON.
std::string run_json(uint64_t done, uint64_t errors, double seconds, std::vector<double>& us,
                     const std::string& first_error) {
  auto pct = [&](double q) {
    if (us.empty())
      return 0.0;
    auto k = std::min(us.size() - 1, size_t(q * double(us.size())));
    std::nth_element(us.begin(), us.begin() + long(k), us.end());
    return us[k];
  };
  char head[256];
  std::snprintf(head, sizeof head, "{\"done\": %llu, \"errors\": %llu, \"seconds\": %.6f, \"p50_us\": %.1f, \"p99_us\": %.1f",
                static_cast<unsigned long long>(done), static_cast<unsigned long long>(errors), seconds, pct(0.5), pct(0.99));
  return std::string(head) + ", \"error\": \"" + json_escape(first_error) + "\"}";
}

/// `count` messages of `text` from this node to PEER/AGENT, `window` of them in flight, each
/// answered by the agent (at once for a one-way message): messages
/// between two nodes, without a client in the path. A helper actor sends them and times each
/// from its send to its answer; the reply is run_json's.
caf::result<std::string> send_many(node_actor* self, const std::string& to, const std::string& from, std::string text,
                                   bool one_way, uint64_t count, uint32_t window) {
  if (count == 0 || count > max_messages_per_run)
    return make_error(errc::usage, "count: expected 1 to " + std::to_string(max_messages_per_run) + " messages, got "
                                     + std::to_string(count));
  if (window == 0 || window > max_messages_in_flight)
    return make_error(errc::usage, "window: expected 1 to " + std::to_string(max_messages_in_flight)
                                     + " messages in flight, got " + std::to_string(window));
  auto slash = to.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == to.size())
    return make_error(errc::usage, "--to: expected PEER_ID/AGENT, got '" + to + "'");
  if (text.size() > max_message_bytes)
    return make_error(errc::invalid_input, "message of " + std::to_string(text.size()) + " bytes refused: over the limit of "
                           + std::to_string(max_message_bytes) + " bytes");
  auto peer = to.substr(0, slash), agent = to.substr(slash + 1);
  auto rp = self->make_response_promise<std::string>();
  // The helper sends to the agent's own handle, asked of its node once: one actor hop fewer on
  // the peer for every message. The agent answers a one-way message at once with {"sent": true}.
  auto run_to = [=](caf::actor target) mutable {
    // Linked: a node that stops ends the run; the run's own end (normal) leaves the node alone.
    // On the scheduler, not a thread of its own: with `caf::detached` a node told to stop during
    // a run hung in CAF 0.17's await_detached_threads about one stop in six (tenth session),
    // for 7-10 % of one-way throughput between nodes (perf/README, ninth session).
    self->spawn<caf::linked>([=](caf::event_based_actor* me) mutable -> caf::behavior {
      // Plain sends, not requests: CAF 0.17 sets a timer in its clock thread for every request
      // (waking that thread) and never cancels it, answered or not. The agent's answers come back as ordinary messages in the order sent
      // (one sender, one receiver), so the oldest send time is the one an answer belongs to. A
      // run that hears nothing for `internal_timeout`, or whose agent goes away, counts what is
      // still out as failed.
      using clock = std::chrono::steady_clock;
      struct run {
        std::deque<clock::time_point> out; // send times of the messages in flight, oldest first
        std::vector<double> us;            // the latencies of every `stride`-th message: at most 8 MB
        uint64_t stride = 1, next = 0, answered = 0, done = 0, errors = 0;
        std::string first_error;
        caf::typed_response_promise<std::string> rp;
        clock::time_point t0 = clock::now(), heard = t0;
      };
      auto r = std::make_shared<run>();
      r->rp = rp;
      r->stride = std::max<uint64_t>(1, (count + max_latencies_kept - 1) / max_latencies_kept);
      r->us.reserve(count / r->stride + 1);
      // One message, shared by every send (CAF copies it only when a receiver would change it).
      auto msg = caf::make_message(deliver_atom::value, agent, from, text, one_way);
      auto send_next = [=] {
        r->out.push_back(clock::now());
        ++r->next;
        me->send(target, msg);
      };
      auto finish = [=] {
        auto secs = std::chrono::duration<double>(clock::now() - r->t0).count();
        r->rp.deliver(run_json(r->done, r->errors, secs, r->us, r->first_error));
        me->quit();
      };
      auto fail_rest = [=](const std::string& why) {
        auto out = r->next - r->answered, unsent = count - r->next;
        r->errors += out + unsent;
        r->answered = count;
        if (r->first_error.empty())
          r->first_error = why + " (" + std::to_string(out) + " messages in flight, " + std::to_string(unsent) + " not sent)";
        finish();
      };
      auto answered = [=](bool ok, const std::string& why) {
        if (r->out.empty())
          return; // an answer after the run gave up on it
        auto now = clock::now();
        if (r->answered % r->stride == 0)
          r->us.push_back(std::chrono::duration<double, std::micro>(now - r->out.front()).count());
        r->out.pop_front();
        r->heard = now;
        if (ok) {
          ++r->done;
        } else if (++r->errors == 1) {
          r->first_error = why;
        }
        if (++r->answered == count)
          return finish();
        if (r->next < count)
          send_next();
      };
      me->monitor(target);
      me->set_down_handler([=](caf::down_msg& d) {
        fail_rest("agent " + to + " went away: " + error_text(d.reason));
      });
      while (r->next < std::min<uint64_t>(window, count))
        send_next();
      me->delayed_send(me, std::chrono::seconds(1), run_check_atom::value);
      return {
        [=](std::string&) { answered(true, {}); },
        [=](caf::error& e) { answered(false, error_text(e)); },
        [=](run_check_atom) {
          if (clock::now() - r->heard >= internal_timeout)
            return fail_rest("no answer from " + to + " in " + std::to_string(internal_timeout.count()) + " s");
          me->delayed_send(me, std::chrono::seconds(1), run_check_atom::value);
        },
      };
    });
  };
  auto start = [=](caf::actor node) mutable {
    self->request(node, internal_timeout, deliver_atom::value, agent)
      .then([=](caf::actor& target) mutable { run_to(std::move(target)); },
            [rp](caf::error& e) mutable { rp.deliver(std::move(e)); });
  };
  if (peer == self->state.cfg.id) {
    start(caf::actor_cast<caf::actor>(self));
    return rp;
  }
  self->request(self->state.membership, internal_timeout, lookup_atom::value, peer)
    .then(
      [=](caf::actor& node) mutable {
        self->state.messages_out += count;
        start(node);
      },
      [rp](caf::error& e) mutable { rp.deliver(std::move(e)); });
  return rp;
}

/// Runs `f` once `after` has passed (with high priority, ahead of the data in the mailbox).
void at_deadline(node_actor* self, std::chrono::milliseconds after, std::function<void()> f) {
  auto id = self->state.next_deadline++;
  self->state.deadlines.emplace(id, std::move(f));
  self->delayed_send<caf::message_priority::high>(self, after, control_deadline_atom::value, id);
}

/// What the node actor knows of itself at once (no other actor asked).
void own_status(node_actor* self, node_status& s) {
  auto& st = self->state;
  s.id = st.cfg.id;
  s.address = st.cfg.host + ":" + std::to_string(st.cfg.port);
  s.data_dir = st.cfg.data_dir;
  s.uptime_ms = uint64_t(
    std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - st.started).count());
  s.shards = st.cfg.shards;
  s.rss_bytes = resident_bytes();
  s.cpu_seconds = cpu_seconds();
  s.start_time_unix = st.started_unix;
  if (st.db) {
    s.sst_bytes = st.db->property("rocksdb.total-sst-files-size");
    s.pending_compaction_bytes = st.db->property("rocksdb.estimate-pending-compaction-bytes");
    s.delayed_write_rate = st.db->property("rocksdb.actual-delayed-write-rate");
    s.writes_stopped = st.db->property("rocksdb.is-write-stopped");
  }
  s.vectors_stored = counters().vectors_stored.load(std::memory_order_relaxed);
  s.vectors_deleted = counters().vectors_deleted.load(std::memory_order_relaxed);
  for (auto& e : counters().errors)
    s.errors.push_back(e.load(std::memory_order_relaxed));
  auto index = st.board->index_slots_load();
  s.index_threads = index.threads;
  s.index_threads_busy = index.busy;
  s.index_shards_waiting = index.waiting;
}

/// A status answer being gathered: what is known, and what has come.
struct status_gather {
  caf::typed_response_promise<node_status> rp;
  node_status s;
  bool answered = false, collections = false, members = false;
  std::chrono::steady_clock::time_point asked = std::chrono::steady_clock::now();

  /// Answers now; parts still out come from what is known and are named late.
  void answer(node_state& st) {
    if (answered)
      return;
    answered = true;
    if (!collections)
      s.collections = st.board->read(), s.late.push_back("collections");
    if (!members)
      s.members = st.last.members, s.late.push_back("members");
    rp.deliver(std::move(s));
  }
};

/// Reads the collections once every shard has loaded what it holds (right after a start they may
/// still be loading), checking every few milliseconds; after internal_timeout, answers without.
void await_collections(node_actor* self, std::shared_ptr<status_gather> g) {
  if (g->answered)
    return;
  if (!self->state.board->ready()) {
    if (std::chrono::steady_clock::now() - g->asked >= internal_timeout)
      return g->answer(self->state);
    return at_deadline(self, std::chrono::milliseconds(5), [self, g] { await_collections(self, g); });
  }
  g->s.collections = self->state.board->read();
  g->collections = true;
  if (g->members)
    g->answer(self->state);
}

/// The node's status. The collections and the task counts are read from what their actors keep
/// current (collection_board, task_board), the members asked of membership (a thread of its own).
/// With a deadline (ms, 0: none), it answers by then whatever the load: a part still out then
/// (members, or collections while shards load) comes from what is known, named in node_status::late.
caf::result<node_status> status(node_actor* self, uint32_t deadline_ms) {
  auto g = std::make_shared<status_gather>();
  g->rp = self->make_response_promise<node_status>();
  own_status(self, g->s);
  g->s.task_counts = self->state.tasks_board->totals();
  // High priority: it jumps membership's queue. An answer after the deadline only refreshes the
  // last known members.
  self->request<caf::message_priority::high>(self->state.membership, internal_timeout, peers_atom::value)
    .then(
      [self, g](std::vector<member_info>& members) {
        self->state.last.members = members;
        if (g->answered)
          return;
        g->s.members = std::move(members);
        g->members = true;
        if (g->collections)
          g->answer(self->state);
      },
      [g](caf::error& e) {
        if (g->answered)
          return;
        g->answered = true;
        g->rp.deliver(std::move(e));
      });
  await_collections(self, g);
  if (deadline_ms > 0)
    at_deadline(self, std::chrono::milliseconds(deadline_ms), [self, g] { g->answer(self->state); });
  return g->rp;
}

/// Status plus the tasks' figures, the searches' latency and every local actor's mailbox size. Only
/// status is asked (of the node itself, which asks membership); the rest is read at once: the
/// mailboxes are counted by counted<> (actors/counted_actor.hpp), the task manager and the router
/// keep their figures on boards. Asking a busy actor waits for a scheduler thread behind its data:
/// 0.1-0.2 s at the median during a put (perf/README.md, nineteenth session).
caf::result<node_metrics> metrics(node_actor* self, uint32_t deadline_ms) {
  constexpr auto timeout = std::chrono::seconds(10);
  auto& st = self->state;
  auto rp = self->make_response_promise<node_metrics>();
  auto m = std::make_shared<node_metrics>();
  m->messages_in = st.messages_in->load(std::memory_order_relaxed);
  m->messages_out = st.messages_out;
  m->search_latency = st.board->search_latency();
  m->tasks = st.tasks_board->metrics();
  auto mailbox = [m](std::string name, const std::shared_ptr<const mailbox_counts>& counts) {
    m->mailbox_names.push_back(std::move(name));
    m->mailbox_sizes.push_back(counts ? counts->waiting() : 0);
  };
  mailbox("node", self->counts());
  mailbox("vector_router", mailbox_counts_of(st.router));
  mailbox("task_manager", mailbox_counts_of(st.tasks));
  mailbox("membership", mailbox_counts_of(st.membership));
  for (size_t i = 0; i < st.workers.size(); ++i)
    mailbox("text_worker-" + std::to_string(i), mailbox_counts_of(st.workers[i]));
  for (auto& [name, agent] : st.agents)
    mailbox("agent-" + name, mailbox_counts_of(agent));
  auto shards = st.board->shard_mailboxes();
  shards.resize(st.cfg.shards); // shards the router has not spawned yet: 0
  for (size_t i = 0; i < shards.size(); ++i) {
    m->mailbox_names.push_back("vector_shard-" + std::to_string(i));
    m->mailbox_sizes.push_back(shards[i]);
  }
  // The one part asked: the node's own status. At the deadline, what the node knows of itself
  // without the members' answer, named in status.late, as in status().
  auto answered = std::make_shared<bool>(false);
  auto answer = [self, rp, m, answered](node_status* s) mutable {
    if (*answered)
      return;
    *answered = true;
    if (s) {
      m->status = std::move(*s);
    } else {
      // Read only here, not for every request (/proc and RocksDB reads).
      own_status(self, m->status);
      m->status.collections = self->state.board->read();
      m->status.task_counts = self->state.tasks_board->totals();
      m->status.members = self->state.last.members;
      m->status.late.push_back("status");
    }
    rp.deliver(std::move(*m));
  };
  self->request<caf::message_priority::high>(caf::actor_cast<caf::actor>(self), timeout, status_atom::value,
                                             deadline_ms ? std::max<uint32_t>(1, uint32_t(uint64_t(deadline_ms) * status_share_of_deadline_pct / 100)) : 0u)
    .then([answer](node_status& s) mutable { answer(&s); },
          [rp, answered](caf::error& e) mutable {
            if (!*answered) {
              *answered = true;
              rp.deliver(std::move(e));
            }
          });
  if (deadline_ms > 0)
    at_deadline(self, std::chrono::milliseconds(deadline_ms), [answer]() mutable { answer(nullptr); });
  return rp;
}

caf::behavior node_behavior(node_actor* self, node_config cfg, std::shared_ptr<database> db,
                            std::function<void(const std::string&)> fatal) {
  self->state.cfg = cfg;
  self->state.db = db;
  keep_serving(self, "node");
  self->state.router = spawn_vector_router(self, cfg, db, self->state.board);
  for (uint32_t i = 0; i < cfg.workers; ++i)
    self->state.workers.push_back(spawn_text_worker(self, self->state.router, cfg.dim));
  // The task manager's executors are local workers and peers' nodes alike: dynamic handles.
  std::vector<caf::actor> executors;
  for (auto& w : self->state.workers)
    executors.push_back(caf::actor_cast<caf::actor>(w));
  self->state.tasks = spawn_task_manager(self, cfg, db, std::move(executors), self->state.tasks_board);
  for (auto& a : cfg.agents)
    self->state.agents.emplace(a.name, spawn_agent(self, a, cfg.id, self->state.messages_in));
  if (!fatal)
    fatal = [](const std::string& reason) {
      if (!reason.empty())
        log(log_level::error, reason);
    };
  self->state.stop = fatal;
  self->state.membership = spawn_membership(self, {cfg, caf::actor_cast<caf::actor>(self), std::move(fatal)});
  return {
    [=](put_atom a, vector_batch& b) { return self->delegate(self->state.router, a, std::move(b)); },
    [=](search_atom a, search_request& r) { return self->delegate(self->state.router, a, std::move(r)); },
    [=](get_atom a, std::string& c, std::string& id) { return self->delegate(self->state.router, a, c, id); },
    [=](delete_atom a, std::string& c, std::string& id) { return self->delegate(self->state.router, a, c, id); },
    [=](text_search_atom a, text_search_request& r) { return self->delegate(self->state.worker(), a, std::move(r)); },
    [=](ingest_atom a, document_batch& b) { return self->delegate(self->state.worker(), a, std::move(b)); },
    [=](task_atom a, task_submission& s) { return self->delegate(self->state.tasks, a, std::move(s)); },
    [=](task_submit_wait_atom a, task_submission& s) { return self->delegate(self->state.tasks, a, std::move(s)); },
    [=](task_wait_atom a, std::vector<uint64_t>& ids) { return self->delegate(self->state.tasks, a, std::move(ids)); },
    [=](task_cancel_atom a, uint64_t id) { return self->delegate(self->state.tasks, a, id); },
    [=](status_atom) { return status(self, 0); },
    [=](status_atom, uint32_t deadline_ms) { return status(self, deadline_ms); },
    [=](control_deadline_atom, uint64_t id) {
      auto& deadlines = self->state.deadlines;
      if (auto it = deadlines.find(id); it != deadlines.end()) {
        auto f = std::move(it->second);
        deadlines.erase(it);
        f();
      }
    },
    [=](graph_save_atom a) { return self->delegate(self->state.router, a); },
    [=](snapshot_atom a, std::string& out) { return self->delegate(self->state.router, a, std::move(out)); },
    [=](collection_create_atom a, collection_spec& c) { return self->delegate(self->state.router, a, std::move(c)); },
    [=](cluster_collection_create_atom a, collection_spec& c) { return self->delegate(self->state.router, a, std::move(c)); },
    [=](collection_drop_atom a, std::string& name) { return self->delegate(self->state.router, a, std::move(name)); },
    [=](cluster_collection_drop_atom a, std::string& name) { return self->delegate(self->state.router, a, std::move(name)); },
    [=](vshard_counts_atom a) { return self->delegate(self->state.router, a); },
    [=](collection_list_atom a) { return self->delegate(self->state.router, a); },
    [=](metrics_atom) { return metrics(self, 0); },
    [=](metrics_atom, uint32_t deadline_ms) { return metrics(self, deadline_ms); },
    [=](bound_atom a, uint16_t port) {
      self->state.cfg.port = port;
      self->send(self->state.membership, a, port);
    },
    [=](serving_atom) -> caf::result<std::string> {
      // Asked, not delegated, with high priority: a node busy with data still says at once
      // whether it serves (a delegate of another priority is not matched to the request).
      auto rp = self->make_response_promise<std::string>();
      self->request<caf::message_priority::high>(self->state.router, std::chrono::seconds(5), serving_atom::value)
        .then([rp](std::string& why) mutable { rp.deliver(std::move(why)); },
              [rp](caf::error& e) mutable { rp.deliver(std::move(e)); });
      return rp;
    },
    [=](peers_atom a) { return self->delegate(self->state.membership, a); },
    [=](forget_atom a, std::string& id) { return self->delegate(self->state.membership, a, std::move(id)); },
    [=](members_atom a, std::vector<member_info>& infos, std::vector<caf::actor>& nodes) {
      self->send(self->state.router, a, infos, nodes); // down peers included: they own their keys
      std::vector<member_info> live;
      std::vector<caf::actor> live_nodes;
      for (size_t i = 0; i < infos.size() && i < nodes.size(); ++i)
        if (nodes[i]) {
          live.push_back(std::move(infos[i]));
          live_nodes.push_back(std::move(nodes[i]));
        }
      // A peer down, or back as another process: the agent handles asked of it are stale (a
      // message to a dead process's agent is not answered).
      auto& kept = self->state.peer_agents;
      for (auto it = kept.begin(); it != kept.end();) {
        auto peer = it->first.substr(0, it->first.find('/'));
        bool same = false;
        for (size_t i = 0; i < live.size(); ++i)
          same = same || (live[i].id == peer && live_nodes[i] == it->second.node);
        it = same ? std::next(it) : kept.erase(it);
      }
      self->send(self->state.tasks, a, std::move(live), std::move(live_nodes));
    },
    [=](cluster_put_atom a, collection_spec& spec, vector_batch& b) {
      return self->delegate(self->state.router, a, std::move(spec), std::move(b));
    },
    [=](cluster_put_atom a, collection_spec& spec, batch_rows& r) {
      return self->delegate(self->state.router, a, std::move(spec), std::move(r));
    },
    [=](cluster_search_atom a, collection_spec& spec, search_request& req) {
      return self->delegate(self->state.router, a, std::move(spec), std::move(req));
    },
    [=](cluster_get_atom a, collection_spec& spec, std::string& id) {
      return self->delegate(self->state.router, a, std::move(spec), std::move(id));
    },
    [=](sync_specs_atom a) { return self->delegate(self->state.router, a); },
    [=](sync_digest_atom a, std::string& collection) { return self->delegate(self->state.router, a, std::move(collection)); },
    [=](sync_list_atom a, std::string& collection, uint32_t vshard) {
      return self->delegate(self->state.router, a, std::move(collection), vshard);
    },
    [=](sync_fetch_atom a, std::string& collection, std::vector<std::string>& ids) {
      return self->delegate(self->state.router, a, std::move(collection), std::move(ids));
    },
    [=](ready_atom a, std::string& id) { self->send(self->state.router, a, std::move(id)); },
    [=](cluster_delete_atom a, collection_spec& spec, id_versions& d) {
      return self->delegate(self->state.router, a, std::move(spec), std::move(d));
    },
    [=](leave_atom, bool) { self->state.stop(""); }, // the leave is answered: stop
    [=](leave_atom a, std::string& peer_id) { self->send(self->state.membership, a, std::move(peer_id)); },
    [=](leave_atom a) {
      // Leave the cluster gracefully: peers stop routing here, then every vector moves to them.
      auto rp = self->make_response_promise<bool>();
      self->request(self->state.membership, internal_timeout, a)
        .then(
          [=](bool) mutable {
            self->request(self->state.router, std::chrono::minutes(30), leave_atom::value)
              .then(
                [=](bool moved) mutable {
                  log(log_level::info, moved ? "left the cluster: every vector is with the peers"
                                             : "left the cluster: no peer took the vectors");
                  rp.deliver(moved);
                  self->delayed_send(self, std::chrono::milliseconds(100), leave_atom::value, true);
                },
                [=](caf::error& e) mutable { rp.deliver(std::move(e)); });
          },
          [=](caf::error& e) mutable { rp.deliver(std::move(e)); });
      return rp;
    },
    [=](run_task_atom a, task_submission& run) { return self->delegate(self->state.worker(), a, std::move(run)); },
    [=](send_atom, const std::string& to, const std::string& from, std::string& text, bool one_way) {
      return send_message(self, to, from, std::move(text), one_way);
    },
    [=](send_atom, const std::string& to, const std::string& from, std::string& text, bool one_way, uint64_t count,
        uint32_t window) { return send_many(self, to, from, std::move(text), one_way, count, window); },
    [=](deliver_atom a, const std::string& agent, const std::string& from, std::string& text,
        bool one_way) -> caf::result<std::string> {
      auto& agents = self->state.agents;
      auto it = agents.find(agent);
      if (it == agents.end())
        return make_error(errc::not_found, "peer '" + self->state.cfg.id + "' has no agent '" + agent + "' (agents: "
                               + agent_names(self->state) + ")");
      if (one_way) { // anonymous: the agent's answer has nowhere to go
        caf::anon_send(it->second, a, agent, from, std::move(text), true);
        return std::string("{\"sent\": true}");
      }
      return pass_on<std::string>(self, it->second, a, agent, from, std::move(text), false);
    },
    [=](deliver_atom, const std::string& agent) -> caf::result<caf::actor> {
      auto it = self->state.agents.find(agent);
      if (it == self->state.agents.end())
        return make_error(errc::not_found, "peer '" + self->state.cfg.id + "' has no agent '" + agent + "' (agents: "
                               + agent_names(self->state) + ")");
      return it->second;
    },
    [=](join_atom a, member_info& who, caf::actor& node, std::string& cluster) {
      return self->delegate(self->state.membership, a, std::move(who), std::move(node), std::move(cluster));
    },
    // The join of protocol 2 named no cluster: answered with the mismatch, so that an old node
    // says why it cannot join instead of timing out.
    [=](join_atom, member_info& who, caf::actor&) -> caf::result<std::vector<member_info>> {
      log(log_level::warn, "refused the join of '" + who.id + "' from " + who.address + ": protocol version "
                             + std::to_string(who.protocol) + " is not this node's " + std::to_string(protocol_version));
      return make_error(errc::protocol_mismatch, "protocol version " + std::to_string(who.protocol) + " is not this node's "
                                                   + std::to_string(protocol_version));
    },
    [=](gossip_atom a, std::vector<member_info>& members) { self->send(self->state.membership, a, std::move(members)); },
    [=](gossip_atom a, uint64_t digest, caf::actor& from) { self->send(self->state.membership, a, digest, std::move(from)); },
  };
}

} // namespace

caf::actor spawn_node(caf::actor_system& sys, const node_config& cfg, std::shared_ptr<database> db,
                      std::function<void(const std::string&)> fatal) {
  // A thread of its own: control requests (status, metrics, peers, readiness) and each deadline's
  // message are taken at once instead of after the shards that hold every scheduler thread during
  // a put (status p99 over one connection 0.71 s scheduled, 0.34-0.52 s detached, perf/README.md).
  // The data it passes on costs a thread's wake-up per batch. Stop it with stop_node(), not by
  // destroying the system alone.
  return sys.spawn<caf::detached>(node_behavior, cfg, std::move(db), std::move(fatal));
}

void stop_node(caf::actor_system& sys, caf::actor& node) {
  auto held = caf::actor_cast<caf::weak_actor_ptr>(node);
  if (node)
    caf::anon_send_exit(node, caf::exit_reason::user_shutdown);
  node = nullptr;
  sys.await_all_actors_done();
  sys.clock().cancel_all();
  // A handle kept elsewhere (a server that outlives the node) keeps the system's destructor
  // waiting for the node's thread: said once, so that a stop that hangs says why.
  for (int i = 0; i < 50 && held.lock(); ++i) // bounded: 5 s
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  if (held.lock())
    log(log_level::warn, "stopping: a handle to the node actor is still held; the stop waits until it is released");
}

} // namespace p2p
