#include "vectors/metric.hpp"

namespace p2p {

std::string_view to_string(metric_kind m) {
  switch (m) {
    case metric_kind::cosine: return "cosine";
    case metric_kind::ip: return "ip";
    case metric_kind::l2: return "l2";
  }
  return "?";
}

std::optional<metric_kind> parse_metric(std::string_view s) {
  if (s == "cosine")
    return metric_kind::cosine;
  if (s == "ip")
    return metric_kind::ip;
  if (s == "l2")
    return metric_kind::l2;
  return std::nullopt;
}

} // namespace p2p
