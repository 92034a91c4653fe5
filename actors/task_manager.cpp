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
    self->send(self, task_flush_atom::value); // after the replies already in the mailbox
  }
}

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
    ++st.executors[*where].load;
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
      self->send(self, task_flush_atom::value);
    }
  }
  dispatch(self);
}

} // namespace p2p::task_manager_detail
