// Messaging between agents on two nodes (two processes on 127.0.0.1), next to a plain CAF
// ping-pong between two processes with the same CAF settings, in the same run.
//   one-way: N small messages to the remote agent, then one request to learn they arrived;
//   request/response: N sequential requests, p50 and p99 of the round trip.

#include <algorithm>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <cstdio>
#include <iostream>
#include <thread>

#include <boost/program_options.hpp>

#include "perf/harness/program_options.hpp"
#include <unistd.h>

#include "protocol/messages.hpp"
#include "runtime/actor_runtime.hpp"
#include "runtime/node_host.hpp"

namespace po = boost::program_options;
using namespace p2p;
using clock_type = std::chrono::steady_clock;

namespace {

using ping_atom = caf::atom_constant<caf::atom("b_ping")>;

struct figures {
  double one_way_per_s = 0, rr_per_s = 0, p50_us = 0, p99_us = 0;
};

double percentile(std::vector<double> xs, double p) {
  std::sort(xs.begin(), xs.end());
  return xs[std::min(xs.size() - 1, size_t(p * double(xs.size())))];
}

/// Sends `n` one-way messages made by `one_way()` then a request made by `request()`; then `n`
/// sequential requests. `one_way` and `request` send to the far side.
template <class OneWay, class Request>
figures measure(caf::scoped_actor& self, size_t n, OneWay one_way, Request request) {
  figures f;
  auto t0 = clock_type::now();
  for (size_t i = 0; i < n; ++i)
    one_way();
  request();
  f.one_way_per_s = double(n) / std::chrono::duration<double>(clock_type::now() - t0).count();
  std::vector<double> us;
  auto t1 = clock_type::now();
  for (size_t i = 0; i < n; ++i) {
    auto a = clock_type::now();
    request();
    us.push_back(std::chrono::duration<double, std::micro>(clock_type::now() - a).count());
  }
  f.rr_per_s = double(n) / std::chrono::duration<double>(clock_type::now() - t1).count();
  f.p50_us = percentile(us, 0.5);
  f.p99_us = percentile(us, 0.99);
  return f;
}

int pong_server(const node_config& cfg) {
  runtime_config rcfg(cfg);
  caf::actor_system sys{rcfg};
  auto pong = sys.spawn([](caf::event_based_actor*) -> caf::behavior {
    return {[](ping_atom, uint64_t x) { return x; }};
  });
  auto port = sys.middleman().publish(pong, 0, "127.0.0.1");
  if (!port)
    return 1;
  std::cout << *port << std::endl;
  pause(); // until killed
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  size_t n = 20000;
  std::string mode, dir = "build/bench-tmp";
  po::options_description desc("messaging_bench options");
  desc.add_options()("help,h", "show this help")("n", po::value(&n)->default_value(n), "messages per measurement")(
    "dir", po::value(&dir)->default_value(dir), "scratch directory")("pong-server", po::value(&mode), "internal");
  po::variables_map vm;
  if (auto status = p2p::bench::parse_program_options("messaging_bench", argc, argv, desc, vm))
    return *status;
  node_config cfg;
  if (vm.count("pong-server"))
    return pong_server(cfg);

  // The far side: a plain CAF echo actor in a child process, and a p2p-agent node process.
  std::string self_path = std::filesystem::read_symlink("/proc/self/exe").string();
  FILE* pong_proc = popen((self_path + " --pong-server 1 & echo $!").c_str(), "r");
  int pong_pid = 0, pong_port = 0;
  if (fscanf(pong_proc, "%d", &pong_pid) != 1)
    return 1;
  std::filesystem::remove_all(dir + "/messaging");
  std::filesystem::create_directories(dir + "/messaging");
  std::string node_cmd = std::string(P2P_AGENT_BIN) + " node --id far --port 0 --log-level warn --data-dir " + dir
                         + "/messaging/far > " + dir + "/messaging/far.out 2>&1 & echo $!";
  FILE* node_proc = popen(node_cmd.c_str(), "r");
  int node_pid = 0;
  if (fscanf(node_proc, "%d", &node_pid) != 1)
    return 1;
  std::string far_address;
  for (int i = 0; i < 500 && far_address.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    std::ifstream out(dir + "/messaging/far.out");
    std::string line;
    std::getline(out, line);
    auto at = line.find("listening on ");
    if (at != std::string::npos)
      far_address = line.substr(at + 13, line.find(' ', at + 13) - at - 13);
  }
  if (fscanf(pong_proc, "%d", &pong_port) != 1 || far_address.empty()) {
    std::cerr << "messaging_bench: the far side did not start\n";
    return 1;
  }

  // The near side: a node in this process that joins the far node, as a second peer would.
  cfg.id = "near";
  cfg.port = 0;
  cfg.data_dir = dir + "/messaging/near";
  cfg.bootstrap = {far_address};
  auto host = p2p::node_host::start(cfg);
  if (!host || !(*host)->publish("127.0.0.1", 0)) {
    std::cerr << "messaging_bench: the near node did not start\n";
    return 1;
  }
  auto& sys = (*host)->system();
  auto node = (*host)->node();
  caf::scoped_actor self{sys};
  for (int i = 0; i < 500; ++i) { // until the far node is a member
    std::vector<member_info> members;
    self->request(node, std::chrono::seconds(5), peers_atom::value).receive([&](std::vector<member_info>& m) { members = m; }, [](caf::error&) {});
    if (alive_members(members) == 2)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  auto timeout = std::chrono::seconds(30);
  auto ok = [](caf::error& e) { throw std::runtime_error(error_text(e)); };

  auto pong = sys.middleman().remote_actor("127.0.0.1", uint16_t(pong_port));
  if (!pong)
    return 1;
  auto raw = measure(
    self, n, [&] { self->send(*pong, ping_atom::value, uint64_t(1)); },
    [&] { self->request(*pong, timeout, ping_atom::value, uint64_t(2)).receive([](uint64_t) {}, ok); });
  // Drain the echoes of the one-way pings.
  for (size_t i = 0; i < n; ++i)
    self->receive([](uint64_t) {}, caf::after(std::chrono::seconds(5)) >> [] {});

  std::string to = "far/worker", from = "near", text = "ping";
  auto agents = measure(
    self, n, [&] { self->send(node, send_atom::value, to, from, text, true); },
    [&] {
      self->request(node, timeout, send_atom::value, to, from, text, false).receive([](std::string&) {}, ok);
    });
  for (size_t i = 0; i < n; ++i) // the node's acknowledgements of the one-way sends
    self->receive([](std::string&) {}, caf::after(std::chrono::seconds(5)) >> [] {});

  std::printf("messaging_bench: %zu messages per figure, two processes on 127.0.0.1\n\n", n);
  std::printf("| %-36s | %12s | %12s | %7s | %-18s |\n", "figure", "agents", "plain CAF", "ratio", "target");
  std::printf("|%s|%s|%s|%s|%s|\n", std::string(38, '-').c_str(), std::string(14, '-').c_str(),
              std::string(14, '-').c_str(), std::string(9, '-').c_str(), std::string(20, '-').c_str());
  auto row = [](const char* name, double a, double b, const char* target) {
    std::printf("| %-36s | %12.0f | %12.0f | %6.0f%% | %-18s |\n", name, a, b, 100 * a / b, target);
  };
  row("one-way (msgs/s)", agents.one_way_per_s, raw.one_way_per_s, ">= 100,000/s");
  row("request/response, sequential (/s)", agents.rr_per_s, raw.rr_per_s, "");
  row("request/response p50 (us)", agents.p50_us, raw.p50_us, "<= 100 us");
  row("request/response p99 (us)", agents.p99_us, raw.p99_us, "");
  std::printf("\nguide's expectations: 1,000-10,000 msgs/s at 1-10 ms\n");

  kill(pong_pid, SIGTERM);
  kill(node_pid, SIGTERM);
  pclose(pong_proc);
  pclose(node_proc);
  return 0;
}
