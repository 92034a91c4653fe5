#pragma once
// Passing a request on: the actor that receives it answers the original sender directly.

#include <caf/all.hpp>

namespace p2p {

/// Delegates the current request to `dest` and tells CAF that its answer, a T, is the answer:
/// for handlers that return caf::result<T> and delegate to a dynamically typed actor (whose
/// self->delegate gives a caf::delegated<caf::message>).
template <class T, class Self, class Handle, class... Ts>
caf::delegated<T> pass_on(Self* self, const Handle& dest, Ts&&... xs) {
  self->delegate(dest, std::forward<Ts>(xs)...);
  return {};
}

} // namespace p2p
