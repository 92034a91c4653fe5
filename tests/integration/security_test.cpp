// What a stranger on the node's BASP port can do to a plaintext node: random and forged frames,
// idle connections, too many connections. The node keeps serving, its memory bounded, and says
// what it closed. (TLS keeps strangers out altogether: cluster_test.cpp.)

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <fstream>
#include <regex>
#include <thread>

#include "tests/support/cli_output.hpp"
#include "tests/support/data.hpp"
#include "tests/support/process.hpp"

using namespace p2p;
using namespace p2p::test;

namespace {

uint16_t port_of(const std::string& address) { return uint16_t(std::stoi(address.substr(address.rfind(':') + 1))); }

/// A TCP connection to 127.0.0.1:port that sends nothing (-1 when it cannot connect).
int idle_connection(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  auto addr = loopback_address(port);
  if (fd < 0 || connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    if (fd >= 0)
      close(fd);
    return -1;
  }
  return fd;
}

/// Reads what is there without waiting; true once the other side closed the connection.
bool closed_by_peer(int fd) {
  char buf[4096];
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 0) <= 0)
      return false;
    auto got = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (got == 0 || (got < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
      return true;
    if (got < 0)
      return false;
  }
}

/// `n` idle connections to 127.0.0.1:port.
std::vector<int> idle_connections(uint16_t port, int n) {
  std::vector<int> fds;
  for (int i = 0; i < n; ++i) {
    int fd = idle_connection(port);
    REQUIRE(fd >= 0);
    fds.push_back(fd);
  }
  return fds;
}

/// Polls every 100 ms, at most `rounds` times, until the node closed `want` of `fds`; how many
/// it closed.
size_t wait_closed(const std::vector<int>& fds, size_t want, int rounds) {
  size_t closed = 0;
  std::vector<bool> done(fds.size(), false);
  for (int round = 0; round < rounds && closed < want; ++round) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    for (size_t i = 0; i < fds.size(); ++i)
      if (!done[i] && closed_by_peer(fds[i])) {
        done[i] = true;
        ++closed;
      }
  }
  return closed;
}

/// Makes room for `n` descriptors in this process (the soft limit is often 1024).
void allow_descriptors(rlim_t n) {
  rlimit files{};
  REQUIRE(getrlimit(RLIMIT_NOFILE, &files) == 0);
  if (files.rlim_cur < n && files.rlim_max >= n) {
    files.rlim_cur = n;
    REQUIRE(setrlimit(RLIMIT_NOFILE, &files) == 0);
  }
  REQUIRE(files.rlim_cur >= n);
}

std::string metric(uint16_t metrics_port, const std::string& name) {
  std::string body;
  REQUIRE(http_get(metrics_port, "/metrics", body) == 200);
  std::smatch m;
  REQUIRE_MESSAGE(std::regex_search(body, m, std::regex("\n" + name + " ([0-9]+)")), name);
  return m[1].str();
}

std::string node_log(node_process& node) { return node.process().err() + node.process().out(); }

} // namespace

TEST_CASE("a plaintext node takes 10,000 random and forged BASP frames: it stays up, small, and serves") {
  auto dir = fresh_dir("security-fuzz");
  node_process node(dir, R"({"vectors": {"dim": 8, "shards": 2},
                             "cluster": {"gossip_interval_ms": 200, "failure_timeout_ms": 1000}})");
  auto fuzz = run_program({"/usr/bin/python3", std::string(P2P_SOURCE_DIR) + "/tests/security/basp_fuzz.py", "--port",
                           std::to_string(port_of(node.address())), "--pid", std::to_string(node.process().pid()),
                           "--agent", P2P_AGENT_BIN, "--dir", dir, "--frames", "10000", "--seed", "7"},
                          dir, 600);
  REQUIRE_MESSAGE(fuzz.exit_code == 0, std::string(fuzz.out + fuzz.err));
  MESSAGE(fuzz.out);
  // Real traffic was recorded (handshakes and direct messages of each command), then 10,000
  // frames went out.
  CHECK(fuzz.out.find("BASP operations [1, 2") != std::string::npos);
  CHECK(fuzz.out.find("sent 10000 frames") != std::string::npos);
  std::smatch m;
  REQUIRE(std::regex_search(fuzz.out, m, std::regex("rss_kb before ([0-9]+) peak ([0-9]+)")));
  CHECK(std::stoull(m[2].str()) < 100 * 1024); // under 100 MB, headers of up to 255 MiB included
  REQUIRE(node.process().running());

  // Still serving: status, a put, a search that finds what was put.
  auto status = run_agent({"status", "--peer", node.address(), "--json"}, dir, 60);
  REQUIRE_MESSAGE(status.exit_code == 0, status.err);
  std::ofstream(dir + "/after.jsonl") << R"({"id": "after-1", "vector": [1, 0, 0, 0, 0, 0, 0, 0]})" << "\n"
                                      << R"({"id": "after-2", "vector": [0, 1, 0, 0, 0, 0, 0, 0]})" << "\n";
  auto put = run_agent({"put", "--peer", node.address(), "--input", dir + "/after.jsonl", "--collection", "after"}, dir, 60);
  REQUIRE_MESSAGE(put.exit_code == 0, put.err);
  std::ofstream(dir + "/q.jsonl") << R"({"vector": [0, 1, 0.1, 0, 0, 0, 0, 0]})" << "\n";
  auto search = run_agent(
    {"search", "--peer", node.address(), "--input", dir + "/q.jsonl", "--collection", "after", "--k", "1", "--json"}, dir,
    60);
  REQUIRE_MESSAGE(search.exit_code == 0, search.err);
  CHECK_MESSAGE(search.out.find("after-2") != std::string::npos, search.out);

  // SIGTERM still stops it cleanly, and it said what it closed (once per kind and address).
  CHECK(node.stop() == 0);
  auto log = node_log(node);
  CHECK(log.find("closed a connection that sent a BASP frame of unknown type (from 127.0.0.1") != std::string::npos);
  CHECK(log.find("stopped cleanly") != std::string::npos);
}

TEST_CASE("a header announcing more than security.max_message_mb closes its connection before anything is allocated") {
  auto dir = fresh_dir("security-header");
  auto metrics_port = free_ports(1);
  node_process node(dir, R"({"security": {"max_message_mb": 16}, "metrics": {"port": )" + std::to_string(metrics_port) + "}}");
  auto port = port_of(node.address());
  // A client handshake announcing 4,000 MiB (BASP: operation 1, payload length at bytes 4-7).
  int fd = idle_connection(port);
  REQUIRE(fd >= 0);
  unsigned char header[32] = {1, 0, 0, 0, 0xFA, 0, 0, 0};
  REQUIRE(send(fd, header, sizeof header, 0) == ssize_t(sizeof header));
  bool closed = false;
  for (int i = 0; i < 100 && !closed; ++i) { // bounded: 10 s
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    closed = closed_by_peer(fd);
  }
  close(fd);
  CHECK(closed);
  CHECK(metric(metrics_port, "p2p_frames_refused_total") == "1");
  auto status = run_agent({"status", "--peer", node.address(), "--json"}, dir, 60);
  REQUIRE_MESSAGE(status.exit_code == 0, status.err);
  std::smatch m;
  REQUIRE(std::regex_search(status.out, m, std::regex("\"rss_bytes\": ([0-9]+)")));
  CHECK(std::stoull(m[1].str()) < (uint64_t(100) << 20));
  CHECK(node.stop() == 0);
  CHECK(node_log(node).find("closed a connection that sent a BASP handshake announcing 4194304000 bytes")
        != std::string::npos);
}

TEST_CASE("1,000 idle connections: clients are still served, and each is closed after the handshake timeout") {
  allow_descriptors(4096);
  auto dir = fresh_dir("security-idle");
  auto metrics_port = free_ports(1);
  node_process node(dir, R"({"security": {"handshake_timeout_ms": 1000}, "metrics": {"port": )"
                           + std::to_string(metrics_port) + "}}");
  auto port = port_of(node.address());
  auto idle = idle_connections(port, 1000);
  // A client is served while they hang on.
  auto status = run_agent({"status", "--peer", node.address()}, dir, 60);
  CHECK_MESSAGE(status.exit_code == 0, status.err);
  // Each is closed by the node (bounded wait: 30 s for a 1 s timeout).
  auto closed = wait_closed(idle, idle.size(), 300);
  for (int fd : idle)
    close(fd);
  CHECK(closed == idle.size());
  CHECK(std::stoull(metric(metrics_port, "p2p_handshake_timeouts_total")) >= 1000);
  // Clients still get in afterwards.
  CHECK(run_agent({"status", "--peer", node.address()}, dir, 60).exit_code == 0);
  CHECK(node.stop() == 0);
  CHECK(node_log(node).find("closed a connection that did not finish its handshake within 1000 ms") != std::string::npos);
}

TEST_CASE("past security.max_connections new connections are closed at once, and served again once some close") {
  auto dir = fresh_dir("security-max-connections");
  auto metrics_port = free_ports(1);
  node_process node(dir, R"({"security": {"max_connections": 20, "handshake_timeout_ms": 600000},
                             "metrics": {"port": )" + std::to_string(metrics_port) + "}}");
  auto port = port_of(node.address());
  auto fds = idle_connections(port, 30);
  // Bounded: the node accepts and closes within a moment; wait until 10 are closed (10 s at most).
  auto closed = wait_closed(fds, 10, 100);
  CHECK(closed == 10);
  CHECK(metric(metrics_port, "p2p_connections_refused_total") == "10");
  CHECK(metric(metrics_port, "p2p_connections_open") == "20");
  // Full: a client is refused with a clear error; once the idle ones go, it is served.
  auto refused = run_agent({"status", "--peer", node.address(), "--timeout", "5"}, dir, 60);
  CHECK(refused.exit_code == 1);
  CHECK_MESSAGE(refused.err.find("security.max_connections") != std::string::npos, refused.err);
  for (int fd : fds)
    close(fd);
  bool served = false;
  for (int i = 0; i < 50 && !served; ++i) { // bounded: the node sees the closes within moments
    served = run_agent({"status", "--peer", node.address(), "--timeout", "5"}, dir, 60).exit_code == 0;
    if (!served)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  CHECK(served);
  CHECK(node.stop() == 0);
  CHECK(node_log(node).find("refused a connection: 20 are open (security.max_connections)") != std::string::npos);
}
