#include "protocol/messages.hpp"

#include <atomic>
#include <map>

#include "core/log.hpp"

namespace p2p {

vector_batch subset(const vector_batch& b, const std::vector<uint32_t>& rows) {
  vector_batch out{b.collection, b.dim, {}, {}, {}, {}};
  out.values.reserve(rows.size() * b.dim);
  for (uint32_t i : rows) {
    out.ids.push_back(b.ids[i]);
    out.values.insert(out.values.end(), b.values.begin() + size_t(i) * b.dim, b.values.begin() + size_t(i + 1) * b.dim);
    if (!b.metadata.empty())
      out.metadata.push_back(b.metadata[i]);
    if (!b.versions.empty())
      out.versions.push_back(b.versions[i]);
  }
  return out;
}

caf::error save_rows(caf::serializer& f, const batch_rows& x) {
  // The serialiser takes mutable references; nothing is changed.
  auto& b = const_cast<vector_batch&>(*x.source);
  auto n = x.rows.size();
  // Each field as inspect(vector_batch) writes it: the receiver reads a vector_batch.
  auto strings = [&](std::vector<std::string>& all) -> caf::error {
    size_t count = all.empty() ? 0 : n;
    if (auto e = f.begin_sequence(count))
      return e;
    if (!all.empty())
      for (auto i : x.rows)
        if (auto e = f(all[i]))
          return e;
    return f.end_sequence();
  };
  if (auto e = f(b.collection, b.dim))
    return e;
  if (auto e = strings(b.ids))
    return e;
  size_t floats = n * b.dim;
  if (auto e = f.begin_sequence(floats))
    return e;
  for (auto i : x.rows)
    if (auto e = f.apply_raw(b.dim * sizeof(float), b.values.data() + size_t(i) * b.dim))
      return e;
  if (auto e = f.end_sequence())
    return e;
  if (auto e = strings(b.metadata))
    return e;
  size_t versions = b.versions.empty() ? 0 : n;
  if (auto e = f.begin_sequence(versions))
    return e;
  if (!b.versions.empty())
    for (auto i : x.rows)
      if (auto e = f(b.versions[i]))
        return e;
  return f.end_sequence();
}

void register_message_types(caf::actor_system_config& cfg) {
  cfg.add_message_type<vector_batch>("vector_batch");
  cfg.add_message_type<batch_rows>("batch_rows");
  cfg.add_message_type<id_versions>("id_versions");
  cfg.add_message_type<versioned_rows>("versioned_rows");
  cfg.add_message_type<collection_spec>("collection_spec");
  cfg.add_message_type<std::vector<collection_spec>>("std::vector<collection_spec>");
  cfg.add_message_type<search_request>("search_request");
  cfg.add_message_type<search_result>("search_result");
  cfg.add_message_type<vector_record>("vector_record");
  cfg.add_message_type<collection_info>("collection_info");
  cfg.add_message_type<std::map<std::string, std::vector<uint64_t>>>("std::map<std::string,std::vector<uint64_t>>");
  cfg.add_message_type<std::vector<collection_info>>("std::vector<collection_info>");
  cfg.add_message_type<node_status>("node_status");
  cfg.add_message_type<latency_histogram>("latency_histogram");
  cfg.add_message_type<task_metrics>("task_metrics");
  cfg.add_message_type<node_metrics>("node_metrics");
  cfg.add_message_type<document_batch>("document_batch");
  cfg.add_message_type<ingest_result>("ingest_result");
  cfg.add_message_type<text_search_request>("text_search_request");
  cfg.add_message_type<task_submission>("task_submission");
  cfg.add_message_type<task_outcomes>("task_outcomes");
  cfg.add_message_type<std::vector<uint64_t>>("std::vector<uint64_t>");
  cfg.add_message_type<member_info>("member_info");
  cfg.add_message_type<std::vector<member_info>>("std::vector<member_info>");
}

void keep_serving(caf::scheduled_actor* self, const char* name) {
  self->set_default_handler([name](caf::scheduled_actor*, caf::message_view& x) -> caf::result<caf::message> {
    // A stranger can send any number of them: the first 20 are logged, then every 1000th.
    static std::atomic<uint64_t> dropped{0};
    auto n = ++dropped;
    if (n > 20 && n % 1000 != 0)
      return caf::sec::unexpected_message;
    auto text = caf::to_string(x.content());
    if (text.size() > 200)
      text = text.substr(0, 200) + "...";
    log(log_level::warn, std::string(name) + ": dropped an unexpected message " + text
                           + (n >= 20 ? " (" + std::to_string(n) + " dropped so far; logging every 1000th)" : ""));
    return caf::sec::unexpected_message;
  });
  self->set_error_handler([name](caf::scheduled_actor*, caf::error& err) {
    log(log_level::warn, std::string(name) + ": ignored an error message: " + caf::to_string(err));
  });
}

} // namespace p2p
