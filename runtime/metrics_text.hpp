#pragma once
// A node's figures in the Prometheus text exposition format (version 0.0.4), and readably for
// `status`. Plain functions of node_metrics.

#include <string>

#include "protocol/messages.hpp"

namespace p2p {

[[nodiscard]] std::string prometheus_text(const node_metrics& m);

/// Latency at quantile q (0..1) estimated from the histogram: the upper bound of the bucket
/// holding it (0 when empty, +inf past the last bound).
[[nodiscard]] double histogram_quantile(const latency_histogram& h, double q);

} // namespace p2p
