#include "core/errc.hpp"

namespace p2p {

std::string_view to_string(errc code) {
  switch (code) {
    case errc::none: return "none";
    case errc::usage: return "usage";
    case errc::invalid_input: return "invalid_input";
    case errc::not_found: return "not_found";
    case errc::conflict: return "conflict";
    case errc::refused: return "refused";
    case errc::protocol_mismatch: return "protocol_mismatch";
    case errc::unavailable: return "unavailable";
    case errc::timeout: return "timeout";
    case errc::storage_failure: return "storage_failure";
    case errc::internal: return "internal";
    case errc::busy: return "busy";
  }
  return "unknown";
}

} // namespace p2p
