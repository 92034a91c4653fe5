#include "perf/harness/bench_node.hpp"

#include <chrono>
#include <deque>
#include <stdexcept>
#include <thread>

#include "protocol/messages.hpp"
#include "runtime/node_host.hpp"

namespace p2p::bench {

namespace {

constexpr auto timeout = std::chrono::seconds(300);

double since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

} // namespace

bench_node::bench_node(const node_config& cfg) {
  auto host = node_host::start(cfg);
  if (!host)
    throw std::runtime_error(error_text(host.error()));
  host_ = std::move(*host);
}

bench_node::~bench_node() = default;

double bench_node::put(const std::vector<float>& values, size_t n, uint32_t dim, size_t batch, size_t window) {
  caf::scoped_actor self{host_->system()};
  using handle = decltype(self->request(host_->node(), timeout, 0));
  std::deque<handle> inflight;
  auto settle = [&] {
    inflight.front().receive([](uint64_t) {},
                             [](caf::error& e) { throw std::runtime_error("put failed: " + error_text(e)); });
    inflight.pop_front();
  };
  auto t0 = std::chrono::steady_clock::now();
  for (size_t first = 0; first < n; first += batch) {
    size_t rows = std::min(batch, n - first);
    vector_batch b{"bench", dim, {}, {}, {}, {}};
    b.ids.reserve(rows);
    for (size_t i = first; i < first + rows; ++i)
      b.ids.push_back(std::to_string(i));
    b.values.assign(values.begin() + first * dim, values.begin() + (first + rows) * dim);
    if (inflight.size() >= window)
      settle();
    inflight.push_back(self->request(host_->node(), timeout, put_atom::value, std::move(b)));
  }
  while (!inflight.empty())
    settle();
  return since(t0);
}

double bench_node::process(const std::vector<std::string>& texts, bool ingest, size_t& failed, size_t batch,
                           size_t window) {
  caf::scoped_actor self{host_->system()};
  using handle = decltype(self->request(host_->node(), timeout, 0));
  std::deque<handle> inflight;
  failed = 0;
  auto on_error = [](caf::error& e) { throw std::runtime_error("text request failed: " + error_text(e)); };
  auto settle = [&] {
    if (ingest)
      inflight.front().receive([&](ingest_result& r) { failed += r.errors.size(); }, on_error);
    else
      inflight.front().receive(
        [&](task_outcomes& r) {
          for (auto state : r.states)
            failed += state == 2 ? 0 : 1; // task_state::completed
        },
        on_error);
    inflight.pop_front();
  };
  auto t0 = std::chrono::steady_clock::now();
  for (size_t first = 0; first < texts.size(); first += batch) {
    document_batch b{"bench-text", {}, {}, 200, 20};
    for (size_t i = first; i < std::min(texts.size(), first + batch); ++i) {
      b.ids.push_back(std::to_string(i));
      b.texts.push_back(texts[i]);
    }
    if (inflight.size() >= window)
      settle();
    if (ingest)
      inflight.push_back(self->request(host_->node(), timeout, ingest_atom::value, std::move(b)));
    else
      inflight.push_back(self->request(host_->node(), timeout, task_submit_wait_atom::value,
                                       task_submission{"text_processing", "200 20 10", std::move(b.texts), 1, 0, -1}));
  }
  while (!inflight.empty())
    settle();
  return since(t0);
}

node_status bench_node::status() {
  caf::scoped_actor self{host_->system()};
  node_status out;
  self->request(host_->node(), timeout, status_atom::value)
    .receive([&](node_status& s) { out = std::move(s); },
             [](caf::error& e) { throw std::runtime_error("status failed: " + error_text(e)); });
  return out;
}

double bench_node::wait_indexed() {
  auto t0 = std::chrono::steady_clock::now();
  for (;;) {
    auto s = status();
    uint64_t pending = 0;
    for (auto& c : s.collections)
      pending += c.pending;
    if (pending == 0)
      return since(t0);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

double bench_node::search(const std::vector<float>& queries, uint32_t dim, uint32_t k, uint32_t ef,
                          std::vector<std::vector<size_t>>& results, size_t batch, size_t window) {
  caf::scoped_actor self{host_->system()};
  size_t nq = queries.size() / dim;
  results.assign(nq, {});
  using handle = decltype(self->request(host_->node(), timeout, 0));
  std::deque<std::pair<handle, size_t>> inflight;
  auto settle = [&] {
    auto first = inflight.front().second;
    inflight.front().first.receive(
      [&](search_result& r) {
        size_t hit = 0;
        for (size_t q = 0; q < r.counts.size(); ++q)
          for (uint32_t i = 0; i < r.counts[q]; ++i, ++hit)
            results[first + q].push_back(std::stoul(r.ids[hit]));
      },
      [](caf::error& e) { throw std::runtime_error("search failed: " + error_text(e)); });
    inflight.pop_front();
  };
  auto t0 = std::chrono::steady_clock::now();
  for (size_t first = 0; first < nq; first += batch) {
    size_t rows = std::min(batch, nq - first);
    search_request req{"bench", dim, {}, k, ef, false, false, {}};
    req.queries.assign(queries.begin() + first * dim, queries.begin() + (first + rows) * dim);
    if (inflight.size() >= window)
      settle();
    inflight.emplace_back(self->request(host_->node(), timeout, search_atom::value, std::move(req)), first);
  }
  while (!inflight.empty())
    settle();
  return since(t0);
}

} // namespace p2p::bench
