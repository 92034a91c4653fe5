#pragma once
// The outcome of an operation in the layers without CAF (storage, pure logic): ok, or an error
// code with one line for people. Actors turn it into a caf::error with to_error().

#include <string>
#include <utility>

#include "core/errc.hpp"

namespace p2p {

class [[nodiscard]] status {
public:
  status() = default;
  status(errc code, std::string message) : code_(code), message_(std::move(message)) {}

  [[nodiscard]] bool ok() const { return code_ == errc::none; }
  [[nodiscard]] errc code() const { return code_; }
  [[nodiscard]] const std::string& message() const { return message_; }

private:
  errc code_ = errc::none;
  std::string message_;
};

} // namespace p2p
