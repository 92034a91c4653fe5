#pragma once
// The project's error codes: what went wrong, as a value a caller can branch on. Messages carry
// the detail for people; code decides by the code, never by the text.

#include <cstdint>
#include <string_view>

namespace p2p {

enum class errc : uint8_t {
  none = 0,
  usage,             ///< a flag, argument or config key is wrong (the CLI exits 2)
  invalid_input,     ///< a request's data is refused: wrong dimension, bad UTF-8, out of range
  not_found,         ///< no such id, collection, task, peer or agent
  conflict,          ///< a state that excludes the request: an id already used, a collection that differs
  refused,           ///< the node declines: leaving, queue full, no capable agent
  protocol_mismatch, ///< a peer speaks another protocol version
  unavailable,       ///< the node or peer cannot be reached or went down
  timeout,           ///< no answer within the request's deadline
  storage_failure,   ///< RocksDB refused a read or write
  internal,          ///< a fault of this program
  busy,              ///< over its limit of work in flight: retry after a pause (the CLI does)
};

[[nodiscard]] std::string_view to_string(errc code);

/// The CLI's exit status for an error of `code`: 2 for usage errors, 1 for every other failure.
[[nodiscard]] constexpr int exit_status(errc code) {
  return code == errc::none ? 0 : code == errc::usage ? 2 : 1;
}

} // namespace p2p
