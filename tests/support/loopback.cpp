#include "tests/support/loopback.hpp"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <doctest/doctest.h>

namespace p2p::test {

int loopback_listener(sockaddr_in& addr) {
  int listener = socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(listener >= 0);
  addr = sockaddr_in{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(listen(listener, 8) == 0);
  socklen_t len = sizeof addr;
  REQUIRE(getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  return listener;
}

} // namespace p2p::test
