// The task manager's requests (submit, wait, cancel, counts) and its recovery on start.

#include "actors/task_manager.hpp"

#include "actors/task_manager_state.hpp"
#include "core/log.hpp"
#include "tasks/task_kernels.hpp"

namespace p2p {

namespace task_manager_detail {

namespace {

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

/// Queues the tasks of `s`; `durable`: written first, and resumed after a restart (else held in
/// memory only, for a submitter that waits for their end: its answer acknowledges them).
caf::expected<std::vector<uint64_t>> submit(manager_actor* self, task_submission& s, bool durable) {
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
    t.durable = durable;
    ids.push_back(t.id);
    records.push_back(std::move(t));
  }
  if (auto w = st.store->add(records); !w.ok())
    return make_error(w.code(), "task refused: " + w.message());
  for (auto& t : records) {
    st.enqueue(t);
    st.live.emplace(t.id, std::move(t));
  }
  st.board->add(s.type, task_state::queued, ids.size());
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
    auto t = st.store->get(ids[i]);
    if (!t)
      return make_error(errc::not_found, "no task " + std::to_string(ids[i]));
    fill_outcome(w->out, i, *t);
  }
  if (w->remaining == 0)
    return std::move(w->out);
  w->promise = self->make_response_promise<task_outcomes>();
  return w->promise;
}

void recover(manager_state& st) {
  size_t requeued = 0, resumed = 0;
  auto unreadable = st.store->scan([&](task_record&& t) {
    st.next_id = std::max(st.next_id, t.id + 1);
    if (is_final(t.state)) {
      st.board->add(t.type, t.state);
      return;
    }
    if (t.state == task_state::running) { // it was running when the node stopped: run it again
      (void) transition(t, task_state::queued, now_ms());
      st.persist(t);
      ++requeued;
    }
    ++resumed;
    st.board->add(t.type, task_state::queued);
    st.enqueue(t);
    st.live.emplace(t.id, std::move(t));
  });
  if (unreadable)
    log(log_level::warn, "tasks: skipped " + std::to_string(unreadable) + " unreadable stored entries");
  if (resumed)
    log(log_level::info, "tasks: resumed " + std::to_string(resumed) + " unfinished tasks (" + std::to_string(requeued)
                           + " were running)");
}

task_manager_actor::behavior_type manager_behavior(manager_actor* self, node_config cfg, std::shared_ptr<database> db,
                               std::vector<caf::actor> workers, std::shared_ptr<task_board> board) {
  auto& st = self->state;
  st.cfg = std::move(cfg);
  if (board)
    st.board = std::move(board);
  keep_serving(self, "task_manager");
  st.store = std::make_unique<task_store>(std::move(db));
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
      auto ids = submit(self, s, true);
      if (!ids)
        return ids.error();
      return std::move(*ids);
    },
    [=](task_submit_wait_atom, task_submission& s) -> caf::result<task_outcomes> {
      // The submitter waits: the answer is the acknowledgement, and a node that stops before it
      // fails the request, so these tasks are held in memory only (perf/README "Tasks a submitter
      // waits for").
      auto ids = submit(self, s, false);
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
    [=](task_flush_atom) { flush(self); },
    [=](members_atom, const std::vector<member_info>& infos, const std::vector<caf::actor>& nodes) {
      peers_changed(self, infos, nodes);
    },
  };
}

} // namespace

} // namespace task_manager_detail

task_manager_actor spawn_task_manager(caf::event_based_actor* parent, const node_config& cfg, std::shared_ptr<database> db,
                              std::vector<caf::actor> workers, std::shared_ptr<task_board> board, actor_thread thread) {
  if (thread == actor_thread::own)
    return parent->spawn<caf::linked + caf::detached>(task_manager_detail::manager_behavior, cfg, std::move(db),
                                                      std::move(workers), std::move(board));
  return parent->spawn<caf::linked>(task_manager_detail::manager_behavior, cfg, std::move(db), std::move(workers),
                                    std::move(board));
}

} // namespace p2p
