// p2p-agent bench: runs a scenario (perf/scenarios/*.json) on an embedded node, against --peer,
// or on loopback clusters it starts with scripts/cluster.sh, one per node count; prints a table
// beside the guide and raw-library baselines measured in the same run, and writes --out JSON.

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "perf/harness/bench.hpp"
#include "cli/commands.hpp"
#include "cli/options.hpp"
#include "runtime/client.hpp"

namespace p2p::cli {

namespace {

namespace fs = std::filesystem;

struct bench_options {
  std::string scenario_path, out_path, work_dir, cluster_script, nodes_override;
  bool embedded = false;
  uint16_t base_port = 7471;
  int repeats = 1; // signed: "--repeats -1" is named as -1
  int replicas = 0; // 0: the scenario's topology.replicas
};

std::string own_binary() {
  std::error_code ec;
  auto p = fs::read_symlink("/proc/self/exe", ec);
  return ec ? std::string("p2p-agent") : p.string();
}

/// scripts/cluster.sh: --cluster-script, else where an install puts it beside this binary
/// (BIN/../share/p2p-agent/scripts), else in the source tree whose build/ holds this binary.
std::string find_cluster_script(const std::string& given) {
  if (!given.empty())
    return given;
  auto prefix = fs::path(own_binary()).parent_path().parent_path();
  for (auto candidate : {prefix / "share/p2p-agent/scripts/cluster.sh", prefix / "scripts/cluster.sh"})
    if (fs::exists(candidate))
      return candidate.string();
  throw cli_exit{exit_code::usage, "cannot find scripts/cluster.sh: give --cluster-script"};
}

/// `cluster.sh down --dir D` of the cluster running now, prepared for the signal handler: a bench
/// stopped with Ctrl-C (or SIGTERM) stops its nodes before it exits.
std::vector<std::string> down_args;
std::vector<char*> down_argv; // points into down_args
volatile sig_atomic_t cluster_running = 0;
volatile pid_t command_pid = 0; // the cluster.sh running now, if any

extern "C" void stop_cluster_and_exit(int sig) {
  if (command_pid > 0)
    kill(command_pid, SIGTERM); // a cluster.sh up still waiting for its nodes
  if (cluster_running) {
    pid_t pid = fork(); // fork, dup2, execv, waitpid and _exit are async-signal-safe
    if (pid == 0) {
      dup2(STDERR_FILENO, STDOUT_FILENO);
      execv(down_argv[0], down_argv.data());
      _exit(127);
    }
    if (pid > 0)
      waitpid(pid, nullptr, 0);
  }
  _exit(128 + sig);
}

/// Runs a command with its stdout on our stderr (stdout is the table or the JSON); its exit code.
/// Not std::system: that ignores SIGINT while the command runs.
int run_command(std::vector<std::string> args) {
  std::vector<char*> argv;
  for (auto& a : args)
    argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(STDERR_FILENO, STDOUT_FILENO);
    execv(argv[0], argv.data());
    _exit(127);
  }
  command_pid = pid;
  int status = 0;
  bool waited = pid > 0 && waitpid(pid, &status, 0) == pid;
  command_pid = 0;
  if (!waited)
    return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/// A kill_node or restart_node step on the cluster in `dir`, whose node-1 `s` reaches: SIGKILL
/// node-N and time until node-1 sees it down; or start node-N again with its config and data
/// (its pid where cluster.sh down finds it) and time until it logs that it caught up.
double control_node(node_session& s, const client_options& o, const std::string& dir, step_kind kind, uint32_t node) {
  auto d = dir + "/node-" + std::to_string(node);
  auto id = "node-" + std::to_string(node);
  auto t0 = std::chrono::steady_clock::now();
  auto since = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };
  if (kind == step_kind::kill_node) {
    std::ifstream pid_file(d + "/node.pid");
    pid_t pid = 0;
    if (!(pid_file >> pid) || pid <= 0 || kill(pid, SIGKILL) != 0)
      throw std::runtime_error("cannot kill " + id + ": no running pid in " + d + "/node.pid");
    while (since() < 120) {
      auto members = try_ask<std::vector<member_info>>(s, o, peers_atom::value);
      if (members && std::any_of(members->begin(), members->end(), [&](auto& m) { return m.id == id && m.state == "down"; }))
        return since();
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    throw std::runtime_error("node-1 did not see " + id + " down within 120 s");
  }
  auto log_path = d + "/node.log";
  std::error_code ec;
  auto offset = fs::file_size(log_path, ec);
  if (ec)
    offset = 0;
  auto line = "exec \"$0\" node --config \"$1/config.json\" >> \"$1/node.log\" 2>&1 & echo $! > \"$1/node.pid\"";
  if (run_command({"/bin/bash", "-c", line, own_binary(), d}) != 0)
    throw std::runtime_error("cannot start " + id + " again from " + d + "/config.json");
  while (since() < 300) {
    std::ifstream log(log_path);
    log.seekg(std::streamoff(offset));
    std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
    if (text.find("caught up with") != std::string::npos)
      return since();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  throw std::runtime_error(id + " did not catch up within 300 s (see " + log_path + ")");
}

/// A loopback cluster of `n` nodes started by cluster.sh, stopped when this goes away.
class cluster_run {
public:
  cluster_run(const std::string& script, const std::string& topology, uint32_t n, uint32_t replicas,
              uint16_t base_port, const std::string& dir)
      : script_(script), dir_(dir) {
    fs::remove_all(dir);
    down_args = {"/bin/bash", script, "down", "--dir", dir};
    down_argv.clear();
    for (auto& a : down_args)
      down_argv.push_back(a.data());
    down_argv.push_back(nullptr);
    cluster_running = 1;
    std::signal(SIGINT, stop_cluster_and_exit);
    std::signal(SIGTERM, stop_cluster_and_exit);
    setenv("P2P_AGENT", own_binary().c_str(), 1);
    std::vector<std::string> up{"/bin/bash", script, "up", "--topology", topology, "--nodes", std::to_string(n),
                                "--base-port", std::to_string(base_port), "--dir", dir, "--wait", "60"};
    if (replicas > 0)
      up.insert(up.end(), {"--replicas", std::to_string(replicas)});
    if (run_command(up) != 0) {
      stop();
      throw cli_exit{exit_code::failure, "cluster.sh could not start " + std::to_string(n) + " nodes (logs in " + dir + ")"};
    }
  }
  ~cluster_run() { stop(); }
  cluster_run(const cluster_run&) = delete;
  cluster_run& operator=(const cluster_run&) = delete;

private:
  void stop() {
    if (!cluster_running)
      return;
    // Still marked running: a signal now ends this down and runs its own.
    if (run_command({"/bin/bash", script_, "down", "--dir", dir_}) != 0)
      std::cerr << "p2p-agent bench: cluster.sh down failed for " << dir_ << "\n";
    cluster_running = 0;
  }

  std::string script_, dir_;
};

std::vector<uint32_t> parse_node_counts(const std::string& s) {
  std::vector<uint32_t> out;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ',')) {
    char* end = nullptr;
    long n = std::strtol(item.c_str(), &end, 10);
    if (item.empty() || *end != '\0' || n < 1 || n > 64)
      throw cli_exit{exit_code::usage, "--nodes: expected node counts from 1 to 64 separated by commas, got '" + s + "'"};
    out.push_back(uint32_t(n));
  }
  return out;
}

/// The bench's scratch directory: --work-dir (kept), else a fresh one under /tmp (removed).
struct work_dir {
  std::string path;
  bool remove = false;
  explicit work_dir(const std::string& given) {
    if (!given.empty()) {
      path = given;
      fs::create_directories(path);
      return;
    }
    std::string tmpl = (fs::temp_directory_path() / "p2p-bench-XXXXXX").string();
    if (!mkdtemp(tmpl.data()))
      throw cli_exit{exit_code::failure, "cannot create a scratch directory under " + fs::temp_directory_path().string()};
    path = tmpl;
    remove = true;
  }
  ~work_dir() {
    std::error_code ec;
    if (remove)
      fs::remove_all(path, ec);
  }
};

void note(bool quiet, const std::string& line) {
  if (!quiet)
    std::cerr << "bench: " << line << std::endl;
}

} // namespace

int run_bench(int argc, char** argv) {
  client_options o;
  bench_options b;
  po::options_description desc("bench options");
  desc.add_options()
    ("help,h", "show this help")
    ("scenario", po::value(&b.scenario_path)->required(), "scenario file (JSON), e.g. perf/scenarios/seed-guide.json")
    ("peer", po::value(&o.peer), "run against this running node (H:P) instead of starting nodes")
    ("tls-dir", po::value(&o.tls_dir), "with --peer, for a TLS cluster: ca.pem, client.pem and client.key (default: $P2P_TLS_DIR)")
    ("out", po::value(&b.out_path), "write the results as JSON to this file")
    ("json", po::bool_switch(&o.json), "print the results JSON on stdout instead of the table")
    ("embedded", po::bool_switch(&b.embedded), "run on an embedded node even when the scenario names a topology")
    ("nodes", po::value(&b.nodes_override), "node counts to run, e.g. 1,2,3 (default: the scenario's topology.nodes)")
    ("config", po::value(&o.config_path), "node config of the embedded node")
    ("work-dir", po::value(&b.work_dir), "scratch directory for node data and baselines (default: a fresh one under /tmp, removed after)")
    ("base-port", po::value(&b.base_port)->default_value(b.base_port), "first port of the nodes bench starts")
    ("cluster-script", po::value(&b.cluster_script), "scripts/cluster.sh to start nodes with (default: the project's)")
    ("repeats", po::value(&b.repeats)->default_value(b.repeats), "run everything this many times (baselines and nodes, fresh nodes each time) and report medians and min-max")
    ("replicas", po::value(&b.replicas), "copies of every vector in the clusters bench starts (default: the scenario's topology.replicas, else 2)")
    ("timeout", po::value(&o.timeout_s)->default_value(o.timeout_s), "seconds to wait for each reply");
  po::variables_map vm;
  if (!parse_args(argc, argv, "p2p-agent bench --scenario FILE [--peer H:P] [--out FILE.json]", desc, vm))
    return exit_code::ok;
  scenario sc;
  if (auto err = load_scenario_file(b.scenario_path, sc); !err.empty())
    throw cli_exit{exit_code::usage, err};
  if (b.repeats < 1 || b.repeats > 100)
    throw cli_exit{exit_code::usage, "--repeats: expected 1 to 100, got " + std::to_string(b.repeats)};
  if (vm.count("replicas")) {
    if (b.replicas < 1 || b.replicas > 16)
      throw cli_exit{exit_code::usage, "--replicas: expected 1 to 16, got " + std::to_string(b.replicas)};
    sc.replicas = uint32_t(b.replicas);
  }
  auto counts = sc.nodes;
  if (!b.nodes_override.empty())
    counts = parse_node_counts(b.nodes_override);
  if (b.embedded || !o.peer.empty())
    counts.clear();
  auto cfg = load_node_config(o.config_path, "");
  bool quiet = o.json;

  work_dir dir(b.work_dir);
  note(quiet, "scenario " + sc.name + ": " + std::to_string(sc.steps.size()) + " steps; preparing data");
  auto workloads = bench::make_workloads(sc, cfg.metric);

  bench::run_options ro;
  ro.timeout_s = o.timeout_s;
  ro.progress = !o.json;
  ro.metric = cfg.metric;
  std::unique_ptr<node_session> peer_session; // --peer: one session for every repeat
  if (!o.peer.empty()) {
    peer_session = open_session(o);
    auto status = ask<node_status>(*peer_session, o, status_atom::value);
    counts = {uint32_t(std::max<size_t>(1, alive_members(status.members)))};
  }
  // Each repeat measures the baselines again, then runs every node count on fresh nodes (a fresh
  // embedded data dir, a fresh cluster), so that each repeat's ratio compares neighbours in time.
  std::vector<std::vector<bench::step_result>> repeats;
  for (int rep = 1; rep <= b.repeats; ++rep) {
    auto tag = b.repeats > 1 ? "repeat " + std::to_string(rep) + "/" + std::to_string(b.repeats) + ": " : std::string();
    std::vector<bench::baseline> baselines;
    for (size_t i = 0; i < sc.steps.size(); ++i) {
      baselines.push_back(bench::measure_baseline(sc, i, workloads, cfg, dir.path));
      if (is_node_step(sc.steps[i].kind))
        continue;
      note(quiet, tag + "baseline " + std::string(to_string(sc.steps[i].kind)) + ": " + baselines.back().name + ", "
                    + std::to_string(uint64_t(baselines.back().rate_per_s)) + "/s");
    }
    auto& results = repeats.emplace_back();
    auto run_on = [&](node_session& s, uint32_t nodes) {
      auto rs = bench::run_steps(s, sc, workloads, nodes, ro);
      for (size_t i = 0; i < rs.size(); ++i) {
        rs[i].raw = baselines[i];
        note(quiet, tag + std::to_string(nodes) + " node(s): " + rs[i].step + " " + std::to_string(rs[i].done) + " in "
                      + std::to_string(rs[i].seconds).substr(0, 6) + " s, " + std::to_string(uint64_t(rs[i].rate_per_s))
                      + "/s");
        results.push_back(std::move(rs[i]));
      }
    };
    if (peer_session) {
      run_on(*peer_session, counts.front());
    } else if (counts.empty()) {
      client_options e = o;
      e.data_dir = dir.path + "/embedded";
      fs::remove_all(e.data_dir);
      auto s = open_session(e);
      ro.node_pids = [] { return std::vector<int>{0}; }; // the embedded node is this process
      run_on(*s, 1);
      ro.node_pids = nullptr;
    } else {
      auto script = find_cluster_script(b.cluster_script);
      for (auto n : counts) {
        note(quiet, tag + "starting " + std::to_string(n) + " node(s), " + sc.topology + ", ports "
                      + std::to_string(b.base_port) + ".." + std::to_string(b.base_port + n - 1));
        cluster_run cluster(script, sc.topology, n, sc.replicas, b.base_port, dir.path + "/cluster-" + std::to_string(n));
        client_options c = o;
        c.peer = "127.0.0.1:" + std::to_string(b.base_port);
        auto s = open_session(c);
        auto cluster_dir = dir.path + "/cluster-" + std::to_string(n);
        ro.node_control = [&s, &c, cluster_dir](step_kind kind, uint32_t node) {
          return control_node(*s, c, cluster_dir, kind, node);
        };
        ro.node_pids = [cluster_dir, n] { // cluster.sh writes each node's pid
          std::vector<int> pids;
          for (uint32_t i = 1; i <= n; ++i) {
            std::ifstream file(cluster_dir + "/node-" + std::to_string(i) + "/node.pid");
            int pid = 0;
            if (file >> pid && pid > 0 && kill(pid, 0) == 0)
              pids.push_back(pid);
          }
          return pids;
        };
        run_on(*s, n);
        ro.node_control = nullptr;
        ro.node_pids = nullptr;
      }
    }
  }
  auto results = bench::combine_repeats(repeats);

  auto json = bench::result_json(sc, {counts, o.peer}, results, uint32_t(b.repeats));
  if (!b.out_path.empty()) {
    std::ofstream out(b.out_path, std::ios::binary | std::ios::trunc);
    if (!(out << json))
      throw cli_exit{exit_code::failure, "cannot write --out " + b.out_path};
  }
  if (o.json)
    std::cout << json;
  else
    std::cout << bench::result_table(sc, {counts, o.peer}, results, uint32_t(b.repeats)) << std::flush;
  for (auto& r : results)
    if (!r.error.empty() || r.errors > 0)
      throw cli_exit{exit_code::failure, r.step + " on " + std::to_string(r.nodes) + " node(s): " + std::to_string(r.errors)
                                           + " of " + std::to_string(r.count) + " failed"
                                           + (r.error.empty() ? "" : ": " + r.error)};
  return exit_code::ok;
}

} // namespace p2p::cli
