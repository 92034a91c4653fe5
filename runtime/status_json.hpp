#pragma once
// The JSON of `status --json`, `peers --json` and the HTTP API's /status and /peers: one
// writer for the CLI and the API, so that both say the same.

#include <string>
#include <vector>

#include "protocol/messages.hpp"

namespace p2p {

class json_writer;

/// A latency histogram: count, mean and the bucket bounds holding p50 and p99, in ms.
void write_latency(json_writer& w, const latency_histogram& h);

/// One collection_info as an object.
void write_collection(json_writer& w, const collection_info& c);

[[nodiscard]] std::string status_json(const node_metrics& m, bool embedded);
[[nodiscard]] std::string peers_json(const std::vector<member_info>& members);

} // namespace p2p
