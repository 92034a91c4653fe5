#include "actors/text_worker.hpp"
#include "actors/counted_actor.hpp"

#include <chrono>

#include "protocol/messages.hpp"
#include "tasks/task.hpp"
#include "tasks/task_kernels.hpp"
#include "text/document_reader.hpp"
#include "text/embedder.hpp"
#include "text/text_kernels.hpp"

namespace p2p {

namespace {

constexpr auto router_timeout = std::chrono::seconds(120);

struct worker_state {
  caf::actor router;
  std::unique_ptr<embedder> embed;
  static inline const char* name = "text_worker";
};

using worker_actor = counted<text_worker_actor::stateful_base<worker_state>>;

constexpr size_t max_chunk_text_bytes = 16 * 1024;

caf::result<ingest_result> ingest(worker_actor* self, const document_batch& b) {
  auto& e = *self->state.embed;
  ingest_result summary;
  vector_batch chunks{b.collection, e.dim(), {}, {}, {}, {}};
  for (size_t i = 0; i < b.texts.size(); ++i) {
    document_summary s;
    if (auto error = process_document(b.texts[i], b.chunk_size, b.overlap, 0, s); !error.empty()) {
      summary.errors.push_back(b.ids[i] + ": " + error);
      continue;
    }
    ++summary.documents;
    std::string_view text = b.texts[i];
    for (size_t c = 0; c < s.chunks.size(); ++c) {
      auto& chunk = s.chunks[c];
      chunks.ids.push_back(b.ids[i] + "#" + std::to_string(c));
      chunks.values.resize(chunks.values.size() + e.dim());
      e.embed(text.substr(chunk.begin, chunk.end - chunk.begin), chunks.values.data() + chunks.values.size() - e.dim());
      // The chunk's own text rides along (search --with-payload shows it), cut on a character
      // boundary past 16 KiB so that the metadata stays well under its limit.
      auto piece = text.substr(chunk.begin, chunk.end - chunk.begin);
      bool cut = piece.size() > max_chunk_text_bytes;
      if (cut) {
        size_t end = max_chunk_text_bytes;
        while (end > 0 && (static_cast<unsigned char>(piece[end]) & 0xC0) == 0x80)
          --end; // not inside a UTF-8 sequence
        piece = piece.substr(0, end);
      }
      chunks.metadata.push_back("{\"doc\":\"" + json_escape(b.ids[i]) + "\",\"chunk\":" + std::to_string(c)
                                + ",\"begin\":" + std::to_string(chunk.begin) + ",\"end\":"
                                + std::to_string(chunk.end) + ",\"text\":\"" + json_escape(piece) + "\""
                                + (cut ? ",\"text_cut\":true" : "") + "}");
    }
  }
  summary.chunks = chunks.ids.size();
  if (chunks.ids.empty())
    return summary;
  auto rp = self->make_response_promise<ingest_result>();
  self->request(self->state.router, router_timeout, put_atom::value, std::move(chunks))
    .then([rp, summary](uint64_t) mutable { rp.deliver(summary); },
          [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
  return rp;
}

caf::result<search_result> search_text(worker_actor* self, const text_search_request& r) {
  auto& e = *self->state.embed;
  search_request req{r.collection, e.dim(), {}, r.k, r.ef, r.exact, r.with_payload, r.filter};
  req.queries.resize(r.texts.size() * e.dim());
  for (size_t i = 0; i < r.texts.size(); ++i) {
    if (auto bad = find_invalid_utf8(r.texts[i]); bad != SIZE_MAX)
      return make_error(errc::invalid_input, "search refused: query " + std::to_string(i) + " has invalid UTF-8 at byte "
                             + std::to_string(bad));
    e.embed(r.texts[i], req.queries.data() + i * e.dim());
  }
  auto rp = self->make_response_promise();
  rp.delegate(self->state.router, search_atom::value, std::move(req));
  return rp;
}

text_worker_actor::behavior_type worker_behavior(worker_actor* self, caf::actor router, uint32_t dim) {
  self->state.router = std::move(router);
  keep_serving(self, "text_worker");
  self->state.embed = make_default_embedder(dim);
  return {
    [=](ingest_atom, const document_batch& b) { return ingest(self, b); },
    [=](text_search_atom, const text_search_request& r) { return search_text(self, r); },
    [=](run_task_atom, const task_submission& run) {
      size_t n = run.payloads.size();
      task_outcomes out{{}, byte_vector(n, uint8_t(task_state::completed)), {}, std::vector<std::string>(n),
                        std::vector<std::string>(n)};
      for (size_t i = 0; i < n; ++i)
        if (auto error = run_task_kernel(run.type, run.params, run.payloads[i], out.results[i]); !error.empty()) {
          out.states[i] = uint8_t(task_state::failed);
          out.errors[i] = std::move(error);
          out.results[i].clear();
        }
      return out;
    },
  };
}

} // namespace

text_worker_actor spawn_text_worker(caf::event_based_actor* parent, caf::actor router, uint32_t dim) {
  return parent->spawn<caf::linked + caf::detached>(worker_behavior, std::move(router), dim);
}

} // namespace p2p
