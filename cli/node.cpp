// p2p-agent node / status.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <cstdio>
#include <csignal>
#include <mutex>
#include <thread>
#include <vector>

#include <sys/resource.h>
#include <unistd.h>
#include <iostream>

#include "cli/commands.hpp"
#include "cli/options.hpp"
#include "core/log.hpp"
#include "perf/harness/bench.hpp"
#include "runtime/http_server.hpp"
#include "runtime/status_json.hpp"
#include "runtime/metrics_text.hpp"
#include "runtime/node_host.hpp"
#include "tasks/task.hpp"

namespace p2p::cli {

namespace {

log_level parse_log_level(const std::string& s) {
  if (s == "debug") return log_level::debug;
  if (s == "info") return log_level::info;
  if (s == "warn") return log_level::warn;
  if (s == "error") return log_level::error;
  if (s == "quiet") return log_level::quiet;
  throw cli_exit{exit_code::usage, "--log-level: expected debug, info, warn, error or quiet, got '" + s + "'"};
}

/// Why the node must stop on its own (set by the membership actor), read after shutdown.
std::mutex fatal_mutex;
std::string fatal_reason;

/// Stops the node: with a reason, as a failure (exit 1); without, cleanly (after a leave).
void stop_with(const std::string& reason) {
  if (reason.empty()) {
    kill(getpid(), SIGTERM);
    return;
  }
  {
    std::lock_guard<std::mutex> guard(fatal_mutex);
    if (!fatal_reason.empty())
      return;
    fatal_reason = reason;
  }
  log(log_level::error, reason + "; stopping");
  kill(getpid(), SIGTERM); // wakes the sigwait in run_node: the usual clean shutdown
}

std::string latency_text(const latency_histogram& h, const char* what) {
  if (h.count == 0)
    return std::string("none ") + what + " yet";
  auto ms = [](double s) { return std::isinf(s) ? std::string("> 60000") : format_float(s * 1000); };
  return std::to_string(h.count) + " " + what + ", mean " + format_float(h.sum_s / double(h.count) * 1000)
         + " ms, p50 <= " + ms(histogram_quantile(h, 0.5)) + " ms, p99 <= " + ms(histogram_quantile(h, 0.99)) + " ms";
}

std::string human_bytes(uint64_t b) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MB", double(b) / 1e6);
  return buf;
}

} // namespace

int run_node(int argc, char** argv) {
  std::string config_path, id, host, data_dir, bootstrap, level = "info";
  int port = -1, metrics_port = -1, http_port = -1;
  po::options_description desc("node options");
  desc.add_options()
    ("help,h", "show this help")
    ("config", po::value(&config_path), "node config file (JSON, see config/README.md)")
    ("id", po::value(&id), "override node.id")
    ("host", po::value(&host), "override node.host")
    ("port", po::value(&port), "override node.port (0: any free port)")
    ("data-dir", po::value(&data_dir), "override node.data_dir")
    ("bootstrap", po::value(&bootstrap), "override cluster.bootstrap: H:P,H:P,...")
    ("metrics-port", po::value(&metrics_port), "override metrics.port: serve /metrics there (0: off)")
    ("http-port", po::value(&http_port), "override http.port: serve the HTTP/JSON API and the dashboard there (0: off)")
    ("log-level", po::value(&level), "debug, info, warn, error or quiet");
  po::variables_map vm;
  if (!parse_args(argc, argv, "p2p-agent node --config FILE [--id ID] [--host H] [--port N] [--data-dir DIR] "
                              "[--bootstrap H:P,...] [--metrics-port N] [--http-port N] [--log-level L]",
                  desc, vm))
    return exit_code::ok;
  current_log_level() = parse_log_level(level);
  auto cfg = load_node_config(config_path, data_dir);
  if (!id.empty()) cfg.id = id;
  if (!host.empty()) cfg.host = host;
  if (vm.count("port")) {
    if (port < 0 || port > 65535)
      throw cli_exit{exit_code::usage, "--port: expected 0 to 65535, got " + std::to_string(port)};
    cfg.port = uint16_t(port);
  }
  if (vm.count("metrics-port")) {
    if (metrics_port < 0 || metrics_port > 65535)
      throw cli_exit{exit_code::usage, "--metrics-port: expected 0 to 65535, got " + std::to_string(metrics_port)};
    cfg.metrics_port = uint16_t(metrics_port);
  }
  if (vm.count("http-port")) {
    if (http_port < 0 || http_port > 65535)
      throw cli_exit{exit_code::usage, "--http-port: expected 0 to 65535, got " + std::to_string(http_port)};
    cfg.http_port = uint16_t(http_port);
  }
  if (vm.count("bootstrap")) {
    cfg.bootstrap.clear();
    for (size_t pos = 0; pos <= bootstrap.size();) {
      auto comma = std::min(bootstrap.find(',', pos), bootstrap.size());
      auto addr = bootstrap.substr(pos, comma - pos);
      std::string h;
      uint16_t p;
      if (!addr.empty() && !parse_address(addr, h, p))
        throw cli_exit{exit_code::usage, "--bootstrap: expected HOST:PORT, got '" + addr + "'"};
      if (!addr.empty())
        cfg.bootstrap.push_back(addr);
      pos = comma + 1;
    }
  }
  if (auto err = validate(cfg))
    throw cli_exit{exit_code::usage, err.message};
  if (auto err = serving_rules(cfg))
    throw cli_exit{exit_code::usage, err.message};
  if (!is_loopback(cfg.host) && !cfg.tls())
    log(log_level::warn, "security.insecure_plaintext: serving " + cfg.host + " without TLS: anyone who reaches port "
                           + std::to_string(cfg.port) + " can join cluster '" + cfg.cluster_name
                           + "', read, write and delete; use it only on a network you trust");

  // Each connection is a descriptor: let the node hold security.max_connections of them next to
  // its files (the soft limit is often 1024).
  if (rlimit files{}; getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = std::min<rlim_t>(files.rlim_max, std::max<rlim_t>(files.rlim_cur, cfg.max_connections + 4096));
    (void)setrlimit(RLIMIT_NOFILE, &files);
  }

  // Signals are taken by sigwait below; block them before CAF starts its threads.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto started = node_host::start(cfg, stop_with);
  if (!started)
    throw exit_for(started.error());
  auto& node = **started;
  auto bound = node.publish(cfg.host, cfg.port);
  if (!bound)
    throw exit_for(bound.error()); // the host stops the node on the way out
  std::unique_ptr<http_server> metrics, api;
  const char* scheme = cfg.tls() ? "https" : "http";
  auto use_tls = [&](http_options& o) { // HTTPS with the node's own certificates, client certificates required
    if (cfg.tls()) {
      o.tls_ca = cfg.tls_ca;
      o.tls_certificate = cfg.tls_certificate;
      o.tls_key = cfg.tls_key;
    }
  };
  try {
    if (cfg.metrics_port != 0) {
      http_options o;
      o.host = cfg.host;
      o.port = cfg.metrics_port;
      use_tls(o);
      metrics = std::make_unique<http_server>(node.system(), node.node(), std::move(o));
      std::cout << "metrics on " << scheme << "://" << cfg.host << ":" << metrics->port() << "/metrics" << std::endl;
    }
    if (cfg.http_port != 0) {
      http_options o;
      o.host = cfg.host;
      o.port = cfg.http_port;
      o.api = true;
      o.api_key = cfg.http_api_key;
      use_tls(o);
      api = std::make_unique<http_server>(node.system(), node.node(), std::move(o));
      std::cout << "http api on " << scheme << "://" << cfg.host << ":" << api->port() << "/ (dashboard at /)"
                << (cfg.http_api_key.empty() ? "" : ", requests need the api key") << std::endl;
    }
  } catch (const std::exception& e) {
    throw cli_exit{exit_code::failure, e.what()};
  }
  // Last: whoever waits for this line (cluster.sh, tests) may ask /metrics and the HTTP API at once.
  std::cout << "node " << cfg.id << " listening on " << cfg.host << ":" << *bound << " (cluster '" << cfg.cluster_name
            << "', data " << cfg.data_dir << ", " << cfg.shards << " shards)" << std::endl;
  int signal_number = 0;
  sigwait(&signals, &signal_number);
  for (auto* server : {metrics.get(), api.get()})
    if (server)
      server->stop(); // destroyed after the node: its actors may still post answers to them
  if (fatal_reason.empty())
    log(log_level::info, std::string("received ") + (signal_number == SIGINT ? "SIGINT" : "SIGTERM")
                           + ", shutting down");
  if (auto err = node.stop()) // waits for every actor, then flushes the database
    throw exit_for(err);
  {
    std::lock_guard<std::mutex> guard(fatal_mutex);
    if (!fatal_reason.empty())
      throw cli_exit{exit_code::failure, fatal_reason};
  }
  log(log_level::info, "stopped cleanly");
  return exit_code::ok;
}

namespace {

void print_status(const node_metrics& m, bool embedded) {
  auto& s = m.status;
  auto& by_type = m.tasks;
  std::cout << "node        " << s.id << (embedded ? " (embedded)" : "") << "\n"
            << "address     " << s.address << "\n"
            << "data dir    " << s.data_dir << "\n"
            << "uptime      " << format_float(double(s.uptime_ms) / 1000) << " s\n"
            << "memory      " << human_bytes(s.rss_bytes) << " resident\n"
            << "shards      " << s.shards << "\n"
            << "graphs      " << s.index_threads_busy << " of " << s.index_threads << " index threads building";
  if (s.index_shards_waiting > 0)
    std::cout << ", " << s.index_shards_waiting << (s.index_shards_waiting == 1 ? " shard waits" : " shards wait")
              << " for one";
  std::cout << "\n"
            << "collections " << s.collections.size() << "\n";
  auto alive = alive_members(s.members);
  std::cout << "peers       " << alive << " members";
  if (alive < s.members.size())
    std::cout << " (and " << s.members.size() - alive << " down)";
  std::cout << "\n";
  for (auto& member : s.members)
    std::cout << "  " << member.id << " " << member.address << " " << member.state << "\n";
  std::cout << "tasks      ";
  for (size_t i = 0; i < s.task_counts.size(); ++i)
    std::cout << " " << to_string(task_state(i)) << " " << s.task_counts[i];
  std::cout << "\n";
  for (size_t t = 0; t < by_type.types.size(); ++t) {
    std::cout << "  " << by_type.types[t] << ":";
    for (size_t i = 0; i < task_state_count; ++i)
      std::cout << " " << to_string(task_state(i)) << " " << by_type.counts[t * task_state_count + i];
    std::cout << "\n";
  }
  std::cout << "task latency   " << latency_text(by_type.latency, "finished") << "\n"
            << "search latency " << latency_text(m.search_latency, "searches") << "\n"
            << "messages    " << m.messages_in << " received, " << m.messages_out << " sent on to peers\n"
            << "mailboxes  ";
  for (size_t i = 0; i < m.mailbox_names.size(); ++i)
    std::cout << " " << m.mailbox_names[i] << " " << m.mailbox_sizes[i];
  if (!s.late.empty()) {
    std::cout << "\nlate        ";
    for (size_t i = 0; i < s.late.size(); ++i)
      std::cout << (i ? ", " : "") << s.late[i];
    std::cout << " (busy: these figures are from their last answer)";
  }
  std::cout << "\n";
  for (auto& c : s.collections)
    std::cout << "  " << c.name << ": " << c.count << " vectors, dim " << c.dim << ", " << c.metric << ", "
              << (c.count - c.pending) << " in the HNSW graph, " << c.pending << " pending"
              << (c.under_replicated ? ", " + std::to_string(c.under_replicated) + " of its virtual shards short of a live replica" : "")
              << "\n";
}

/// Set by the first SIGINT or SIGTERM during `status --watch`: the watch stops after the answer
/// it waits for and prints its summary (the handler resets itself, so a second signal ends it).
volatile std::sig_atomic_t watch_stopped = 0;

extern "C" void stop_watch(int) { watch_stopped = 1; }

std::string wall_clock_text() {
  auto now = std::chrono::system_clock::now();
  auto t = std::chrono::system_clock::to_time_t(now);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  localtime_r(&t, &tm);
  char text[32];
  std::snprintf(text, sizeof text, "%02d:%02d:%02d.%03d", tm.tm_hour, tm.tm_min, tm.tm_sec, int(ms));
  return text;
}

std::string ms_text(double ms) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f", ms);
  return text;
}

} // namespace

int run_status(int argc, char** argv) {
  client_options o;
  int64_t deadline_ms = -1;
  double watch_s = 0;
  uint64_t count = 0;
  po::options_description desc("status options");
  add_client_options(desc, o, false);
  desc.add_options()
    ("deadline-ms", po::value(&deadline_ms)->value_name("MS"),
     "answer within MS even while the node is saturated: figures still out by then "
     "come from their last answer and are named as late (0: wait for every part; "
     "default 300, and 0 with --json, whose readers count on fresh figures)")
    ("watch", po::value(&watch_s)->value_name("SEC"),
     "ask again every SEC seconds (0.05 to 86400) over the same connection, each answer under a line "
     "with the time it took (with --json: one object per line); Ctrl-C stops and prints the times' "
     "p50, p99 and max")
    ("count", po::value(&count)->value_name("N"), "with --watch: stop after N answers");
  po::variables_map vm;
  if (!parse_args(argc, argv, "p2p-agent status [--peer H:P] [--json] [--deadline-ms MS] [--watch SEC [--count N]]",
                  desc, vm))
    return exit_code::ok;
  if (deadline_ms < -1 || deadline_ms > 600000)
    throw cli_exit{exit_code::usage, "--deadline-ms: expected 0 to 600000 ms, got " + std::to_string(deadline_ms)};
  bool watch = vm.count("watch") > 0;
  if (watch && !(watch_s >= 0.05 && watch_s <= 86400))
    throw cli_exit{exit_code::usage, "--watch: expected 0.05 to 86400 seconds, got " + format_float(watch_s)};
  if (vm.count("count") && !watch)
    throw cli_exit{exit_code::usage, "--count: only with --watch SEC"};
  if (vm.count("count") && (count == 0 || count > 100'000'000))
    throw cli_exit{exit_code::usage, "--count: expected 1 to 100000000 answers, got " + std::to_string(count)};
  if (deadline_ms == -1)
    deadline_ms = o.json ? 0 : 300;
  auto session = open_session(o);
  if (!watch) {
    auto m = ask<node_metrics>(*session, o, metrics_atom::value, uint32_t(deadline_ms));
    if (o.json)
      std::cout << status_json(m, session->is_embedded()) << std::endl;
    else
      print_status(m, session->is_embedded());
    return exit_code::ok;
  }
  struct sigaction stop = {};
  stop.sa_handler = stop_watch;
  stop.sa_flags = SA_RESETHAND;
  sigemptyset(&stop.sa_mask);
  sigaction(SIGINT, &stop, nullptr);
  sigaction(SIGTERM, &stop, nullptr);
  using clock = std::chrono::steady_clock;
  auto interval = std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(watch_s));
  std::vector<double> took_ms;
  auto next = clock::now();
  while (!watch_stopped && (count == 0 || took_ms.size() < count)) {
    auto asked = clock::now();
    auto wall = wall_clock_text();
    auto m = ask<node_metrics>(*session, o, metrics_atom::value, uint32_t(deadline_ms));
    took_ms.push_back(std::chrono::duration<double, std::milli>(clock::now() - asked).count());
    if (o.json) {
      std::cout << status_json(m, session->is_embedded()) << std::endl;
    } else {
      std::cout << "--- " << wall << ", answer " << took_ms.size() << ", answered in "
                << ms_text(took_ms.back()) << " ms\n";
      print_status(m, session->is_embedded());
      std::cout << std::flush;
    }
    next += interval;
    if (next < clock::now())
      next = clock::now(); // an answer slower than the interval: ask again at once, do not catch up
    while (!watch_stopped && (count == 0 || took_ms.size() < count) && clock::now() < next)
      std::this_thread::sleep_for(std::min<clock::duration>(next - clock::now(), std::chrono::milliseconds(50)));
  }
  if (!took_ms.empty())
    std::cerr << "status: " << took_ms.size() << " answers over one connection, answered in p50 "
              << ms_text(bench::percentile(took_ms, 0.5)) << " ms, p99 " << ms_text(bench::percentile(took_ms, 0.99))
              << " ms, max " << ms_text(*std::max_element(took_ms.begin(), took_ms.end())) << " ms" << std::endl;
  return exit_code::ok;
}

int run_send(int argc, char** argv) {
  client_options o;
  std::string to, message, from = "cli";
  bool one_way = false;
  uint64_t count = 0;
  uint32_t window = 64;
  po::options_description desc("send options");
  add_client_options(desc, o, false);
  desc.add_options()
    ("to", po::value(&to)->required(), "PEER_ID/AGENT: the agent to send to, on any peer of the cluster")
    ("message", po::value(&message)->required(), "the text to send")
    ("from", po::value(&from)->default_value(from), "the sender's name, as the agent sees it")
    ("one-way", po::bool_switch(&one_way), "do not wait for the agent's answer")
    ("count", po::value(&count), "the node at --peer sends the message this many times itself, and says how "
                                 "fast (messages between nodes, without this client in the path)")
    ("window", po::value(&window)->default_value(window), "with --count: messages in flight");
  po::variables_map vm;
  if (!parse_args(argc, argv,
                  "p2p-agent send --peer H:P --to PEER_ID/AGENT --message TEXT [--one-way] [--count N [--window W]] [--json]",
                  desc, vm))
    return exit_code::ok;
  if (vm.count("count") && (count == 0 || count > 100'000'000))
    throw cli_exit{exit_code::usage, "--count: expected 1 to 100000000 messages, got " + std::to_string(count)};
  if (window == 0 || window > 65536)
    throw cli_exit{exit_code::usage, "--window: expected 1 to 65536 messages in flight, got " + std::to_string(window)};
  if (o.peer.empty())
    throw cli_exit{exit_code::usage, "--peer: required (the node that sends the message on)"};
  if (auto slash = to.find('/'); slash == std::string::npos || slash == 0 || slash + 1 == to.size())
    throw cli_exit{exit_code::usage, "--to: expected PEER_ID/AGENT, got '" + to + "'"};
  auto session = open_session(o);
  if (count > 0) {
    o.timeout_s += unsigned(count / 1000); // one request for the whole run: at least 1,000 a second
    auto run = ask<std::string>(*session, o, send_atom::value, to, from, message, one_way, count, window);
    client::message_run r;
    if (!client::read_message_run(run, r))
      throw cli_exit{exit_code::failure, "send: cannot read the node's answer '" + run + "'"};
    if (o.json)
      std::cout << run << std::endl;
    else
      std::printf("%llu of %llu %s to %s in %.3f s: %.0f/s, p50 %.0f us, p99 %.0f us (%llu in flight, timed by %s)\n",
                  static_cast<unsigned long long>(r.done), static_cast<unsigned long long>(count),
                  one_way ? "one-way messages" : "messages answered", to.c_str(), r.seconds,
                  r.seconds > 0 ? double(r.done) / r.seconds : 0.0, r.p50_us, r.p99_us,
                  static_cast<unsigned long long>(window), o.peer.c_str());
    if (r.errors > 0)
      throw cli_exit{exit_code::failure, std::to_string(r.errors) + " failed; the first: " + r.error};
    return exit_code::ok;
  }
  auto t0 = std::chrono::steady_clock::now();
  auto reply = ask<std::string>(*session, o, send_atom::value, to, from, message, one_way);
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0).count();
  if (o.json)
    std::cout << reply << std::endl;
  else
    std::cout << (one_way ? "sent to " : "answer from ") << to << " in " << us << " us: " << reply << std::endl;
  return exit_code::ok;
}

int run_leave(int argc, char** argv) {
  client_options o;
  po::options_description desc("leave options");
  add_client_options(desc, o, false);
  po::variables_map vm;
  if (!parse_args(argc, argv, "p2p-agent leave --peer H:P", desc, vm))
    return exit_code::ok;
  if (o.peer.empty())
    throw cli_exit{exit_code::usage, "--peer: required (the node that leaves)"};
  o.timeout_s = std::max(o.timeout_s, 1800u);
  auto session = open_session(o);
  bool moved = ask<bool>(*session, o, leave_atom::value);
  std::cout << (moved ? "left the cluster: its vectors are with the other peers; the node stops"
                      : "left the cluster: no peer to hand vectors to, they stay in its data dir; the node stops")
            << std::endl;
  return exit_code::ok;
}

int run_forget(int argc, char** argv) {
  client_options o;
  std::string id;
  po::options_description desc("forget options");
  add_client_options(desc, o, false);
  desc.add_options()("id", po::value(&id)->required(), "the down node to drop for good");
  po::variables_map vm;
  if (!parse_args(argc, argv, "p2p-agent forget --peer H:P --id NODE_ID", desc, vm))
    return exit_code::ok;
  if (o.peer.empty())
    throw cli_exit{exit_code::usage, "--peer: required (a live member of the cluster)"};
  auto session = open_session(o);
  std::cout << ask<std::string>(*session, o, forget_atom::value, id) << std::endl;
  return exit_code::ok;
}

int run_peers(int argc, char** argv) {
  client_options o;
  po::options_description desc("peers options");
  add_client_options(desc, o, false);
  po::variables_map vm;
  if (!parse_args(argc, argv, "p2p-agent peers [--peer H:P] [--json]", desc, vm))
    return exit_code::ok;
  auto session = open_session(o);
  auto members = ask<std::vector<member_info>>(*session, o, peers_atom::value);
  if (o.json) {
    std::cout << peers_json(members) << std::endl;
    return exit_code::ok;
  }
  for (size_t i = 0; i < members.size(); ++i) {
    auto& m = members[i];
    std::cout << m.id << (i == 0 ? " (self)" : "") << "  " << m.address << "  " << m.state << "  shards "
              << m.shards.size() << "  capabilities:";
    for (auto& c : m.capabilities)
      std::cout << " " << c;
    std::cout << "\n";
  }
  return exit_code::ok;
}

} // namespace p2p::cli
