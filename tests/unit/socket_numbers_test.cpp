// TCP sockets get their numbers in turn (protocol/wire_guard.cpp): CAF 0.17 names a connection by
// its socket's number and forgets a closed one only later, so a new connection under the number
// of one that just closed was taken for the old one, and answers to it were dropped.

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <set>

#include "tests/support/loopback.hpp"

TEST_CASE("a TCP connection never gets the number of one that just closed, and works under its new number") {
  sockaddr_in addr{};
  int listener = p2p::test::loopback_listener(addr);

  std::set<int> handed_out{listener};
  for (int i = 0; i < 20; ++i) {
    CAPTURE(i);
    int client = socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(client >= 0);
    REQUIRE(connect(client, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    int accepted = accept(listener, nullptr, nullptr);
    REQUIRE(accepted >= 0);
    // The kernel alone hands out the numbers just closed again, one connection after the other.
    CHECK(handed_out.insert(client).second);
    CHECK(handed_out.insert(accepted).second);
    char byte = char('a' + i);
    char got = 0;
    CHECK(send(client, &byte, 1, 0) == 1);
    CHECK(recv(accepted, &got, 1, 0) == 1);
    CHECK(got == byte);
    close(accepted);
    close(client);
  }
  close(listener);

  int plain = socket(AF_INET, SOCK_STREAM, 0);
  int cloexec = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(plain >= 0);
  REQUIRE(cloexec >= 0);
  CHECK((fcntl(plain, F_GETFD) & FD_CLOEXEC) == 0);
  CHECK((fcntl(cloexec, F_GETFD) & FD_CLOEXEC) != 0);
  close(plain);
  close(cloexec);
}
