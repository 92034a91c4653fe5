#pragma once
// An embedded node driven from a benchmark: the same actors and storage as `p2p-agent node`,
// in this process, fed through the node actor's message interface.

#include <memory>
#include <string>
#include <vector>

#include "protocol/messages.hpp"
#include "config/node_config.hpp"

namespace p2p {
class node_host;
}

namespace p2p::bench {

class bench_node {
public:
  explicit bench_node(const node_config& cfg);
  ~bench_node();

  /// Stores rows [0, n) in batches, `window` batches in flight; returns seconds until all acked.
  double put(const std::vector<float>& values, size_t n, uint32_t dim, size_t batch = 1000, size_t window = 4);

  /// Waits until no vector is pending graph insertion; returns seconds waited.
  double wait_indexed();

  /// Searches every query in batches; fills per-query result ids (as row numbers); returns seconds.
  double search(const std::vector<float>& queries, uint32_t dim, uint32_t k, uint32_t ef,
                std::vector<std::vector<size_t>>& results, size_t batch = 64, size_t window = 2);

  /// Sends documents in batches, `window` in flight: as text_processing tasks (submitted and
  /// waited for, persisted like `p2p-agent process`), or to ingest. Returns seconds until all
  /// answered; counts documents that failed.
  double process(const std::vector<std::string>& texts, bool ingest, size_t& failed, size_t batch = 256,
                 size_t window = 4);

  node_status status();

private:
  std::unique_ptr<node_host> host_;
};

} // namespace p2p::bench
