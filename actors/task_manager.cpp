#include "actors/task_manager.hpp"

#include <chrono>
#include <map>
#include <set>
#include <unordered_map>

#include "protocol/messages.hpp"
#include "core/log.hpp"
#include "storage/database.hpp"
#include "tasks/scheduling.hpp"
#include "tasks/task.hpp"
#include "tasks/task_kernels.hpp"

namespace p2p {

namespace {

/// Tasks sent to one worker and not yet answered: enough to keep it busy between replies.
constexpr size_t per_worker_in_flight = 16;

/// Manager to itself: write the transitions gathered since the last flush.
using flush_atom = caf::atom_constant<caf::atom("k_flush")>;

uint64_t now_ms() {
  return uint64_t(
    std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
}

/// Someone waiting for a set of tasks to end.
struct waiter {
  caf::typed_response_promise<task_outcomes> promise;
  task_outcomes out;
  size_t remaining = 0;
};

/// Where tasks run: a local worker, or a peer's node (which hands them to its workers).
struct executor : executor_slot {
  caf::actor handle;
};

/// Tasks by type and state; finished tasks' latency.
struct task_tally {
  std::map<std::string, std::array<uint64_t, task_state_count>> by_type;
  latency_histogram latency;

  void add(const std::string& type, task_state s, uint64_t n = 1) { by_type[type][size_t(s)] += n; }
  void move(const std::string& type, task_state from, task_state to) {
    auto& counts = by_type[type];
    --counts[size_t(from)];
    ++counts[size_t(to)];
  }
  /// Tasks in each state, every type together.
  std::vector<uint64_t> totals() const {
    std::vector<uint64_t> out(task_state_count, 0);
    for (auto& [_, counts] : by_type)
      for (size_t s = 0; s < task_state_count; ++s)
        out[s] += counts[s];
    return out;
  }
};

struct manager_state {
  node_config cfg;
  std::shared_ptr<database> db;
  std::map<std::string, executor> executors; // "local/N" or "peer/ID"
  std::unordered_map<uint64_t, std::string> running_on; // task -> executor
  std::map<uint64_t, task_record> live; // queued and running
  std::set<std::pair<int, uint64_t>> queue; // (-priority, id): highest priority, then oldest, first
  task_tally tally;
  uint64_t next_id = 1;
  std::unordered_map<uint64_t, std::vector<std::pair<std::shared_ptr<waiter>, size_t>>> waiting;
  std::vector<uint64_t> unflushed; // tasks whose last transition is not yet written
  bool flush_scheduled = false;
  static inline const char* name = "task_manager";

  /// Writes `t` as it is now; false (logged) when storage fails.
  bool persist(const task_record& t) {
    rocksdb::WriteBatch wb;
    wb.Put(db->cf(column::tasks), task_key(t.id), encode(t));
    auto st = db->write(wb);
    if (!st.ok())
      log(log_level::error, "task " + std::to_string(t.id) + ": storage write failed: " + st.ToString());
    return st.ok();
  }

  void enqueue(const task_record& t) { queue.emplace(-int(t.priority), t.id); }
};

using manager_actor = caf::stateful_actor<manager_state>;

void fill_outcome(task_outcomes& out, size_t i, const task_record& t) {
  out.states[i] = uint8_t(t.state);
  out.attempts[i] = t.attempts;
  out.results[i] = t.result;
  out.errors[i] = t.error;
}

/// A task reached a final state: count it, tell its waiters, forget it.
void finish(manager_state& st, task_record& t, task_state from) {
  st.tally.move(t.type, from, t.state);
  if (auto now = now_ms(); now >= t.created_ms)
    st.tally.latency.observe(double(now - t.created_ms) / 1000);
  if (auto it = st.waiting.find(t.id); it != st.waiting.end()) {
    for (auto& [w, i] : it->second) {
      fill_outcome(w->out, i, t);
      if (--w->remaining == 0)
        w->promise.deliver(std::move(w->out));
    }
    st.waiting.erase(it);
  }
  st.live.erase(t.id);
}

void dispatch(manager_actor* self);

/// Writes every transition since the last flush in one WriteBatch (group commit), then
/// acknowledges them: final tasks reach their waiters, retries go back in the queue.
void flush(manager_actor* self) {
  auto& st = self->state;
  st.flush_scheduled = false;
  if (st.unflushed.empty())
    return;
  rocksdb::WriteBatch wb;
  for (auto id : st.unflushed)
    wb.Put(st.db->cf(column::tasks), task_key(id), encode(st.live.at(id)));
  if (auto w = st.db->write(wb); !w.ok()) {
    log(log_level::error, "tasks: storage write failed, retrying in 1 s: " + w.ToString());
    st.flush_scheduled = true;
    self->delayed_send(self, std::chrono::seconds(1), flush_atom::value);
    return;
  }
  for (auto id : st.unflushed) {
    auto& t = st.live.at(id);
    if (is_final(t.state)) {
      finish(st, t, task_state::running);
    } else { // a retry
      st.tally.move(t.type, task_state::running, task_state::queued);
      st.enqueue(t);
    }
  }
  st.unflushed.clear();
  dispatch(self);
}

void on_reply(manager_actor* self, uint64_t id, const std::string& where, uint32_t attempt,
              caf::expected<std::string> reply) {
  auto& st = self->state;
  if (auto e = st.executors.find(where); e != st.executors.end() && st.running_on.count(id)
                                         && st.running_on[id] == where && e->second.load > 0)
    --e->second.load;
  if (auto r = st.running_on.find(id); r != st.running_on.end() && r->second == where)
    st.running_on.erase(r);
  auto it = st.live.find(id);
  // Gone (cancelled), re-queued or already answered since: this reply is stale.
  if (it == st.live.end() || it->second.state != task_state::running || it->second.attempts != attempt) {
    dispatch(self);
    return;
  }
  auto& t = it->second;
  auto now = now_ms();
  if (reply) {
    (void) transition(t, task_state::completed, now);
    t.result = std::move(*reply);
  } else if (reply.error() == caf::sec::request_timeout) {
    (void) transition(t, task_state::timed_out, now);
    t.error = "timed out after " + std::to_string(t.timeout_ms) + " ms";
  } else if (t.attempts <= t.max_retries) {
    (void) transition(t, task_state::queued, now);
    t.error = error_text(reply.error());
  } else {
    (void) transition(t, task_state::failed, now);
    t.error = error_text(reply.error());
  }
  st.unflushed.push_back(id);
  if (!st.flush_scheduled) {
    st.flush_scheduled = true;
    self->send(self, flush_atom::value); // after the replies already in the mailbox
  }
}

void dispatch(manager_actor* self) {
  auto& st = self->state;
  // Pick what to start, write all the running transitions in one batch, then send.
  std::vector<std::pair<uint64_t, std::string>> starts; // (task, executor)
  rocksdb::WriteBatch wb;
  auto now = now_ms();
  while (!st.queue.empty()) {
    auto id = st.queue.begin()->second;
    auto& t = st.live.at(id);
    auto* where = least_loaded(st.executors, t.type);
    if (!where)
      break;
    st.queue.erase(st.queue.begin());
    (void) transition(t, task_state::running, now);
    wb.Put(st.db->cf(column::tasks), task_key(t.id), encode(t));
    ++st.executors[*where].load;
    starts.emplace_back(id, *where);
  }
  if (starts.empty())
    return;
  if (auto w = st.db->write(wb); !w.ok()) { // not durable: leave them queued; the next event retries
    log(log_level::error, "tasks: storage write failed: " + w.ToString());
    for (auto& [id, where] : starts) {
      auto& t = st.live.at(id);
      t.state = task_state::queued;
      --t.attempts;
      --st.executors[where].load;
      st.enqueue(t);
    }
    return;
  }
  for (auto& [id, where] : starts) {
    auto& t = st.live.at(id);
    st.tally.move(t.type, task_state::queued, task_state::running);
    uint32_t attempt = t.attempts;
    st.running_on[id] = where;
    self->request(st.executors[where].handle, std::chrono::milliseconds(t.timeout_ms), run_task_atom::value, t.type,
                  t.params, t.payload)
      .then([=, id = id, where = where](std::string& result) { on_reply(self, id, where, attempt, std::move(result)); },
            [=, id = id, where = where](caf::error& err) { on_reply(self, id, where, attempt, std::move(err)); });
  }
}

/// The peers changed: peers with a task capability become executors; the tasks running on a
/// peer that is gone go back to the queue (the attempt counted) and run elsewhere.
void peers_changed(manager_actor* self, const std::vector<member_info>& infos, const std::vector<caf::actor>& nodes) {
  auto& st = self->state;
  std::set<std::string> present;
  for (size_t i = 0; i < infos.size() && i < nodes.size(); ++i) {
    auto key = "peer/" + infos[i].id;
    present.insert(key);
    auto& e = st.executors[key];
    if (e.handle != nodes[i]) {
      e.handle = nodes[i];
      e.load = 0;
    }
    e.capacity = 2 * per_worker_in_flight;
    e.capabilities.clear();
    for (auto& c : infos[i].capabilities)
      if (has_task_kernel(c))
        e.capabilities.push_back(c);
  }
  std::set<std::string> gone;
  for (auto it = st.executors.begin(); it != st.executors.end();) {
    if (it->first.rfind("peer/", 0) == 0 && !present.count(it->first)) {
      gone.insert(it->first);
      it = st.executors.erase(it);
    } else {
      ++it;
    }
  }
  size_t moved = 0;
  for (auto it = st.running_on.begin(); it != st.running_on.end();) {
    if (!gone.count(it->second)) {
      ++it;
      continue;
    }
    auto& t = st.live.at(it->first);
    if (t.state == task_state::running && transition(t, task_state::queued, now_ms())) {
      t.error = "its peer " + it->second.substr(5) + " went down";
      st.unflushed.push_back(t.id); // the flush re-queues it once the transition is written
      ++moved;
    }
    it = st.running_on.erase(it);
  }
  if (moved) {
    log(log_level::warn, "tasks: " + std::to_string(moved) + " tasks were running on a peer that went down; re-queued");
    if (!st.flush_scheduled) {
      st.flush_scheduled = true;
      self->send(self, flush_atom::value);
    }
  }
  dispatch(self);
}

/// Some agent of this node, or an executor on a peer, offers `type`.
bool offered(const manager_state& st, const std::string& type) {
  for (auto& a : st.cfg.agents)
    for (auto& c : a.capabilities)
      if (c == type)
        return true;
  for (auto& [_, e] : st.executors)
    if (e.can_run(type))
      return true;
  return false;
}

caf::expected<std::vector<uint64_t>> submit(manager_actor* self, task_submission& s) {
  auto& st = self->state;
  if (!offered(st, s.type))
    return make_error(errc::refused, "task refused: no agent offers '" + s.type + "'");
  if (!has_task_kernel(s.type))
    return make_error(errc::refused, "task refused: no task kernel runs '" + s.type + "' (kernels: text_processing, embedding)");
  if (s.priority > uint8_t(task_priority::critical))
    return make_error(errc::invalid_input, "task refused: priority " + std::to_string(s.priority) + " out of range 0..3");
  if (st.live.size() + s.payloads.size() > st.cfg.queue_limit)
    return make_error(errc::refused, "task refused: the queue is full (" + std::to_string(st.live.size()) + " of "
                           + std::to_string(st.cfg.queue_limit) + " tasks); try again later");
  rocksdb::WriteBatch wb;
  std::vector<uint64_t> ids;
  auto now = now_ms();
  std::vector<task_record> records;
  for (auto& payload : s.payloads) {
    task_record t;
    t.id = st.next_id++;
    t.type = s.type;
    t.params = s.params;
    t.payload = std::move(payload);
    t.priority = task_priority(s.priority);
    t.timeout_ms = s.timeout_ms ? s.timeout_ms : st.cfg.default_timeout_ms;
    t.max_retries = s.max_retries >= 0 ? uint32_t(s.max_retries) : st.cfg.max_retries;
    t.created_ms = now;
    wb.Put(st.db->cf(column::tasks), task_key(t.id), encode(t));
    wb.Put(st.db->cf(column::tasks), payload_key(t.id), t.payload);
    ids.push_back(t.id);
    records.push_back(std::move(t));
  }
  if (auto w = st.db->write(wb); !w.ok())
    return make_error(errc::storage_failure, "task refused: storage write failed: " + w.ToString());
  for (auto& t : records) {
    st.enqueue(t);
    st.live.emplace(t.id, std::move(t));
  }
  st.tally.add(s.type, task_state::queued, ids.size());
  dispatch(self);
  return ids;
}

/// Waits for `ids`; answers at once for tasks already final (read back from storage).
caf::result<task_outcomes> wait_for(manager_actor* self, const std::vector<uint64_t>& ids) {
  auto& st = self->state;
  auto w = std::make_shared<waiter>();
  size_t n = ids.size();
  w->out = task_outcomes{ids, std::vector<uint8_t>(n), std::vector<uint32_t>(n), std::vector<std::string>(n),
                         std::vector<std::string>(n)};
  for (size_t i = 0; i < n; ++i) {
    if (st.live.count(ids[i])) {
      st.waiting[ids[i]].emplace_back(w, i);
      ++w->remaining;
      continue;
    }
    std::string bytes;
    task_record t;
    if (!st.db->get(column::tasks, task_key(ids[i]), &bytes).ok() || !decode(bytes, t))
      return make_error(errc::not_found, "no task " + std::to_string(ids[i]));
    fill_outcome(w->out, i, t);
  }
  if (w->remaining == 0)
    return std::move(w->out);
  w->promise = self->make_response_promise<task_outcomes>();
  return w->promise;
}

void recover(manager_state& st) {
  size_t requeued = 0, resumed = 0;
  task_record* last = nullptr; // the unfinished task whose payload key comes next
  st.db->scan(column::tasks, "", [&](std::string_view key, std::string_view value) {
    uint64_t id = 0;
    bool is_payload = false;
    if (!parse_task_key(key, id, is_payload)) {
      log(log_level::warn, "skipping an unreadable task key");
      return;
    }
    if (is_payload) {
      if (last && last->id == id)
        last->payload = std::string(value);
      return;
    }
    last = nullptr;
    task_record t;
    if (!decode(value, t)) {
      log(log_level::warn, "skipping the unreadable record of task " + std::to_string(id));
      return;
    }
    st.next_id = std::max(st.next_id, t.id + 1);
    if (is_final(t.state)) {
      st.tally.add(t.type, t.state);
      return;
    }
    if (t.state == task_state::running) { // it was running when the node stopped: run it again
      (void) transition(t, task_state::queued, now_ms());
      st.persist(t);
      ++requeued;
    }
    ++resumed;
    st.tally.add(t.type, task_state::queued);
    st.enqueue(t);
    last = &st.live.emplace(t.id, std::move(t)).first->second;
  });
  if (resumed)
    log(log_level::info, "tasks: resumed " + std::to_string(resumed) + " unfinished tasks (" + std::to_string(requeued)
                           + " were running)");
}

caf::behavior manager_behavior(manager_actor* self, node_config cfg, std::shared_ptr<database> db,
                               std::vector<caf::actor> workers) {
  auto& st = self->state;
  st.cfg = std::move(cfg);
  keep_serving(self, "task_manager");
  st.db = std::move(db);
  std::vector<std::string> local_capabilities;
  for (auto& a : st.cfg.agents)
    for (auto& c : a.capabilities)
      if (has_task_kernel(c))
        local_capabilities.push_back(c);
  for (size_t w = 0; w < workers.size(); ++w)
    st.executors["local/" + std::to_string(w)] = executor{{0, per_worker_in_flight, local_capabilities}, workers[w]};
  recover(st);
  dispatch(self);
  return {
    [=](task_atom, task_submission& s) -> caf::result<std::vector<uint64_t>> {
      auto ids = submit(self, s);
      if (!ids)
        return ids.error();
      return std::move(*ids);
    },
    [=](task_wait_atom, task_submission& s) -> caf::result<task_outcomes> {
      auto ids = submit(self, s);
      if (!ids)
        return ids.error();
      return wait_for(self, *ids);
    },
    [=](task_wait_atom, const std::vector<uint64_t>& ids) { return wait_for(self, ids); },
    [=](task_cancel_atom, uint64_t id) {
      auto& st = self->state;
      auto it = st.live.find(id);
      if (it == st.live.end())
        return false;
      auto& t = it->second;
      auto from = t.state;
      if (is_final(from)) // ended, its write not yet flushed
        return false;
      if (from == task_state::queued)
        st.queue.erase({-int(t.priority), t.id});
      (void) transition(t, task_state::cancelled, now_ms());
      t.error = "cancelled";
      st.persist(t);
      finish(st, t, from);
      return true;
    },
    [=](flush_atom) { flush(self); },
    [=](members_atom, const std::vector<member_info>& infos, const std::vector<caf::actor>& nodes) {
      peers_changed(self, infos, nodes);
    },
    [=](task_counts_atom) { return self->state.tally.totals(); },
    [=](metrics_atom) {
      auto& tally = self->state.tally;
      task_metrics m;
      for (auto& [type, counts] : tally.by_type) {
        m.types.push_back(type);
        m.counts.insert(m.counts.end(), counts.begin(), counts.end());
      }
      m.latency = tally.latency;
      return m;
    },
    [=](mailbox_atom) { return uint64_t(self->mailbox().size()); },
  };
}

} // namespace

caf::actor spawn_task_manager(caf::event_based_actor* parent, const node_config& cfg, std::shared_ptr<database> db,
                              std::vector<caf::actor> workers) {
  return parent->spawn<caf::linked>(manager_behavior, cfg, std::move(db), std::move(workers));
}

} // namespace p2p
