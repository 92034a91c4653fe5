#pragma once
// p2p::errc as a CAF error category ("p2p"): errors travel between actors and peers as values,
// with the code for programs and one line of text for people.

#include <string>

#include <caf/error.hpp>
#include <caf/fwd.hpp>
#include <caf/make_message.hpp>
#include <caf/message.hpp>

#include "core/errc.hpp"

CAF_ERROR_CODE_ENUM(p2p::errc, "p2p")

namespace p2p {

/// An error of `code` with one line for the user.
[[nodiscard]] caf::error make_error(errc code, std::string message);

/// The code of any error: p2p's own, or CAF's system errors mapped onto it
/// (request_timeout -> timeout, a dead receiver or lost connection -> unavailable).
[[nodiscard]] errc code_of(const caf::error& err);

/// The line to show a user for `err`.
[[nodiscard]] std::string error_text(const caf::error& err);

/// Makes the actor system render p2p errors by name.
void register_error_category(caf::actor_system_config& cfg);

} // namespace p2p
