// The task manager's running tasks: dispatch by priority and load, replies, retries and
// timeouts, the group commit of transitions, and peers that come and go.

#include "actors/task_manager_state.hpp"

#include "core/log.hpp"
#include "tasks/task_kernels.hpp"

namespace p2p::task_manager_detail {

void fill_outcome(task_outcomes& out, size_t i, const task_record& t) {
  out.states[i] = uint8_t(t.state);
  out.attempts[i] = t.attempts;
  out.results[i] = t.result;
  out.errors[i] = t.error;
}

void fill_outcome(task_outcomes& out, size_t i, task_record&& t) {
  out.states[i] = uint8_t(t.state);
  out.attempts[i] = t.attempts;
  out.results[i] = std::move(t.result);
  out.errors[i] = std::move(t.error);
}

void finish(manager_state& st, task_record& t, task_state from) {
  st.board->move(t.type, from, t.state);
  if (auto now = now_ms(); now >= t.created_ms)
    st.board->observe(double(now - t.created_ms) / 1000);
  // t is forgotten below: the last waiter takes its result (2 KB for an embedding) instead of a copy.
  if (auto it = st.waiting.find(t.id); it != st.waiting.end()) {
    auto& ws = it->second;
    for (size_t k = 0; k < ws.size(); ++k) {
      auto& [w, i] = ws[k];
      if (k + 1 < ws.size())
        fill_outcome(w->out, i, t);
      else
        fill_outcome(w->out, i, std::move(t));
      if (--w->remaining == 0)
        w->promise.deliver(std::move(w->out));
    }
    st.waiting.erase(it);
  }
  st.live.erase(t.id);
}


/// Writes every transition since the last flush in one WriteBatch (group commit), then
/// acknowledges them: final tasks reach their waiters, retries go back in the queue.
void flush(manager_actor* self) {
  auto& st = self->state;
  st.flush_scheduled = false;
  if (st.unflushed.empty())
    return;
  std::vector<const task_record*> changed;
  for (auto id : st.unflushed)
    changed.push_back(&st.live.at(id));
  if (auto w = st.store->update(changed); !w.ok()) {
    log(log_level::error, "tasks: " + w.message() + "; retrying in 1 s");
    st.flush_scheduled = true;
    self->delayed_send(self, std::chrono::seconds(1), task_flush_atom::value);
    return;
  }
  for (auto id : st.unflushed) {
    auto& t = st.live.at(id);
    if (is_final(t.state)) {
      finish(st, t, task_state::running);
    } else { // a retry
      st.board->move(t.type, task_state::running, task_state::queued);
      st.enqueue(t);
    }
  }
  st.unflushed.clear();
  dispatch(self);
}

namespace {

/// Settles task `id` after the run started on `where` as attempt `attempt`; false when the
/// answer is stale (the task is gone, re-queued or answered since).
bool settle(manager_actor* self, uint64_t id, const std::string& where, uint32_t attempt, bool ok, std::string&& text,
            const caf::error& err) {
  auto& st = self->state;
  if (auto r = st.running_on.find(id); r != st.running_on.end() && r->second.where == where) {
    if (auto e = st.executors.find(where); e != st.executors.end()) {
      e->second.load -= std::min(e->second.load, r->second.units);
      e->second.tasks -= std::min<size_t>(e->second.tasks, 1);
    }
    st.running_on.erase(r);
  }
  auto it = st.live.find(id);
  if (it == st.live.end() || it->second.state != task_state::running || it->second.attempts != attempt)
    return false;
  auto& t = it->second;
  auto now = now_ms();
  if (ok) {
    (void) transition(t, task_state::completed, now);
    t.result = std::move(text);
  } else if (err == caf::sec::request_timeout) {
    (void) transition(t, task_state::timed_out, now);
    t.error = "timed out after " + std::to_string(t.timeout_ms) + " ms";
  } else {
    (void) transition(t, t.attempts <= t.max_retries ? task_state::queued : task_state::failed, now);
    t.error = err ? error_text(err) : std::move(text);
  }
  st.unflushed.push_back(id);
  return true;
}

/// One batch's answer: each task's outcome, or one error for them all (a timeout, a lost peer).
void on_batch_reply(manager_actor* self, const std::vector<std::pair<uint64_t, uint32_t>>& tasks,
                    const std::string& where, caf::expected<task_outcomes> reply) {
  auto& st = self->state;
  bool settled = false;
  for (size_t i = 0; i < tasks.size(); ++i) {
    auto [id, attempt] = tasks[i];
    if (!reply) {
      settled |= settle(self, id, where, attempt, false, {}, reply.error());
    } else if (i >= reply->states.size() || i >= reply->results.size() || i >= reply->errors.size()) {
      settled |= settle(self, id, where, attempt, false, {},
                        make_error(errc::internal, "the executor answered " + std::to_string(reply->states.size())
                                                     + " of " + std::to_string(tasks.size()) + " tasks"));
    } else if (task_state(reply->states[i]) == task_state::completed) {
      settled |= settle(self, id, where, attempt, true, std::move(reply->results[i]), {});
    } else {
      settled |= settle(self, id, where, attempt, false, std::move(reply->errors[i]), {});
    }
  }
  if (auto e = st.executors.find(where); e != st.executors.end()) // once per answer, not per task
    st.board->in_flight(where, e->second.tasks);
  if (!settled) {
    dispatch(self); // only stale answers: their executor has room again
  } else if (!st.flush_scheduled) {
    st.flush_scheduled = true;
    self->send(self, task_flush_atom::value); // after the replies already in the mailbox
  }
}

/// Tasks started on one executor in one dispatch, sent as one message.
struct batch {
  std::string where;
  task_submission run;                            // type, params, payloads
  // (id, attempt) of each, shared by the answer's two handlers
  std::shared_ptr<std::vector<std::pair<uint64_t, uint32_t>>> tasks =
    std::make_shared<std::vector<std::pair<uint64_t, uint32_t>>>();
  size_t bytes = 0;
};

} // namespace

void dispatch(manager_actor* self) {
  auto& st = self->state;
  // Pick what to start, write all the running transitions in one batch, then send.
  std::vector<std::pair<uint64_t, std::string>> starts; // (task, executor)
  std::vector<const task_record*> started;
  auto now = now_ms();
  while (!st.queue.empty()) {
    auto id = st.queue.begin()->second;
    auto& t = st.live.at(id);
    auto* where = least_loaded(st.executors, t.type);
    if (!where)
      break;
    st.queue.erase(st.queue.begin());
    (void) transition(t, task_state::running, now);
    started.push_back(&t);
    auto& e = st.executors[*where];
    e.load += weight(t);
    ++e.tasks;
    starts.emplace_back(id, *where);
  }
  if (starts.empty())
    return;
  if (auto w = st.store->update(started); !w.ok()) { // not durable: leave them queued; the next event retries
    log(log_level::error, "tasks: " + w.message());
    for (auto& [id, where] : starts) {
      auto& t = st.live.at(id);
      t.state = task_state::queued;
      --t.attempts;
      auto& e = st.executors[where];
      e.load -= std::min(e.load, weight(t));
      --e.tasks;
      st.enqueue(t);
    }
    return;
  }
  // Tasks of one type and params for one executor travel together: one message, one answer and
  // one timer per batch instead of per task (perf/README "Tasks in batches").
  std::vector<batch> batches;
  std::map<std::string, size_t> open; // executor -> its batch still taking tasks
  for (auto& [id, where] : starts) {
    auto& t = st.live.at(id);
    st.board->move(t.type, task_state::queued, task_state::running);
    st.running_on[id] = run_place{where, weight(t)};
    auto o = open.find(where);
    batch* b = o == open.end() ? nullptr : &batches[o->second];
    if (!b || b->run.type != t.type || b->run.params != t.params || b->run.timeout_ms != t.timeout_ms
        || b->tasks->size() >= max_batch_tasks || b->bytes + t.payload.size() > max_batch_bytes) {
      open[where] = batches.size();
      b = &batches.emplace_back();
      b->where = where;
      b->run.type = t.type;
      b->run.params = t.params;
      b->run.timeout_ms = t.timeout_ms;
    }
    b->run.payloads.push_back(t.payload);
    b->tasks->emplace_back(id, t.attempts);
    b->bytes += t.payload.size();
  }
  for (auto& [where, _] : open) // once per executor that got tasks, not per task
    st.board->in_flight(where, st.executors[where].tasks);
  for (auto& b : batches) {
    auto timeout = std::chrono::milliseconds(b.run.timeout_ms);
    self->request(st.executors[b.where].handle, timeout, run_task_atom::value, std::move(b.run))
      .then(
        [=, tasks = b.tasks, where = b.where](task_outcomes& out) { on_batch_reply(self, *tasks, where, std::move(out)); },
        [=, tasks = b.tasks, where = b.where](caf::error& err) { on_batch_reply(self, *tasks, where, std::move(err)); });
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
      e.tasks = 0;
      st.board->in_flight(key, 0);
    }
    e.capacity = 4 * per_worker_in_flight;
    e.capabilities.clear();
    for (auto& c : infos[i].capabilities)
      if (has_task_kernel(c))
        e.capabilities.push_back(c);
  }
  std::set<std::string> gone;
  for (auto it = st.executors.begin(); it != st.executors.end();) {
    if (it->first.rfind("peer/", 0) == 0 && !present.count(it->first)) {
      gone.insert(it->first);
      st.board->in_flight(it->first, 0);
      it = st.executors.erase(it);
    } else {
      ++it;
    }
  }
  std::vector<std::string> peers;
  for (auto& [key, _] : st.executors)
    if (key.rfind("peer/", 0) == 0)
      peers.push_back(key.substr(5));
  st.board->executors(std::move(peers));
  size_t moved = 0;
  for (auto it = st.running_on.begin(); it != st.running_on.end();) {
    if (!gone.count(it->second.where)) {
      ++it;
      continue;
    }
    auto& t = st.live.at(it->first);
    if (t.state == task_state::running && transition(t, task_state::queued, now_ms())) {
      t.error = "its peer " + it->second.where.substr(5) + " went down";
      st.unflushed.push_back(t.id); // the flush re-queues it once the transition is written
      ++moved;
    }
    it = st.running_on.erase(it);
  }
  if (moved) {
    log(log_level::warn, "tasks: " + std::to_string(moved) + " tasks were running on a peer that went down; re-queued");
    if (!st.flush_scheduled) {
      st.flush_scheduled = true;
      self->send(self, task_flush_atom::value);
    }
  }
  dispatch(self);
}

} // namespace p2p::task_manager_detail
