#pragma once
// Plain TCP on 127.0.0.1 for tests of the socket hooks (protocol/wire_guard.cpp).

#include <netinet/in.h>

namespace p2p::test {

/// A listening socket on 127.0.0.1 and a port the kernel chose; `addr` is where to connect.
/// Fails the test case (doctest REQUIRE) when the kernel refuses.
int loopback_listener(sockaddr_in& addr);

} // namespace p2p::test
