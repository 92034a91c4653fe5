#include "protocol/messages.hpp"

#include <atomic>
#include <map>

#include "core/log.hpp"

namespace p2p {

void register_message_types(caf::actor_system_config& cfg) {
  cfg.add_message_type<vector_batch>("vector_batch");
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
