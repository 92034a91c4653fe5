#include "tests/support/process.hpp"

#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <random>

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

namespace p2p::test {

namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int decode(int status) {
  if (WIFEXITED(status))
    return WEXITSTATUS(status);
  if (WIFSIGNALED(status))
    return 128 + WTERMSIG(status);
  return -1;
}

} // namespace

child::child(const std::vector<std::string>& args, const std::string& dir, const std::string& name)
  : out_path_(dir + "/" + name + ".out"), err_path_(dir + "/" + name + ".err") {
  std::vector<char*> argv;
  for (auto& a : args)
    argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  // Remove old output first: the parent may read before the child has truncated it.
  std::remove(out_path_.c_str());
  std::remove(err_path_.c_str());
  pid_ = fork();
  if (pid_ < 0)
    throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    int out = open(out_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int err = open(err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int in = open("/dev/null", O_RDONLY);
    dup2(in, 0);
    dup2(out, 1);
    dup2(err, 2);
    execv(argv[0], argv.data());
    _exit(127);
  }
}

child::~child() {
  if (running()) {
    ::kill(pid_, SIGKILL);
    waitpid(pid_, &status_, 0);
  }
}

bool child::running() {
  if (status_ != -1)
    return false;
  int st = 0;
  pid_t r = waitpid(pid_, &st, WNOHANG);
  if (r == pid_) {
    status_ = st;
    return false;
  }
  return true;
}

int child::wait(int timeout_s) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  while (running()) {
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid_, SIGKILL);
      waitpid(pid_, &status_, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return decode(status_);
}

void child::signal(int sig) {
  if (running())
    ::kill(pid_, sig);
}

std::string child::out() const { return slurp(out_path_); }
std::string child::err() const { return slurp(err_path_); }

run_result run_agent(const std::vector<std::string>& args, const std::string& dir, int timeout_s) {
  std::vector<std::string> full{P2P_AGENT_BIN};
  full.insert(full.end(), args.begin(), args.end());
  return run_program(full, dir, timeout_s);
}

run_result run_program(const std::vector<std::string>& args, const std::string& dir, int timeout_s) {
  static int counter = 0;
  child c(args, dir, "cmd" + std::to_string(counter++));
  run_result r;
  r.exit_code = c.wait(timeout_s);
  r.out = c.out();
  r.err = c.err();
  return r;
}

node_process::node_process(const std::string& dir, const std::string& config_json,
                           const std::vector<std::string>& extra)
  : dir_(dir), data_dir_(dir + "/data"), config_path_(dir + "/config.json") {
  std::ofstream(config_path_) << config_json;
  std::vector<std::string> args{P2P_AGENT_BIN, "node", "--config", config_path_, "--port", "0", "--host",
                                "127.0.0.1",   "--data-dir", data_dir_};
  args.insert(args.end(), extra.begin(), extra.end());
  proc_ = std::make_unique<child>(args, dir, "node");
  static const std::regex listening("listening on (127\\.0\\.0\\.1:[0-9]+)");
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    std::smatch m;
    auto out = proc_->out();
    if (std::regex_search(out, m, listening)) {
      address_ = m[1];
      return;
    }
    if (!proc_->running())
      throw std::runtime_error("node exited during start: " + proc_->err());
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  throw std::runtime_error("node did not start listening within 60 s: " + proc_->err());
}

node_process::~node_process() {
  if (proc_ && proc_->running())
    kill();
}

int node_process::stop() {
  proc_->signal(SIGTERM);
  return proc_->wait(120);
}

void node_process::kill() {
  proc_->signal(SIGKILL);
  proc_->wait(30);
}

sockaddr_in loopback_address(uint16_t port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return addr;
}

namespace {

bool port_free(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  auto addr = loopback_address(port);
  bool ok = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  close(fd);
  return ok;
}

} // namespace

uint16_t free_ports(int n) {
  std::mt19937 rng{uint32_t(getpid()) ^ uint32_t(std::chrono::steady_clock::now().time_since_epoch().count())};
  for (int attempt = 0; attempt < 200; ++attempt) {
    // Below Linux's ephemeral range (32768-60999): a port there can be taken by the local end of
    // any outgoing connection (a client, a peer) between this check and a node's (re)bind.
    auto base = uint16_t(std::uniform_int_distribution<int>(20000, 32000 - n)(rng));
    bool all = true;
    for (int i = 0; i < n && all; ++i)
      all = port_free(uint16_t(base + i));
    if (all)
      return base;
  }
  FAIL("no free port range");
  return 0;
}

int http_get(uint16_t port, const std::string& path, std::string& body) {
  body.clear();
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  timeval tv{10, 0}; // bounded: a silent server fails the read after 10 s
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  auto addr = loopback_address(port);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return 0;
  }
  auto request = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  if (write(fd, request.data(), request.size()) != ssize_t(request.size())) {
    close(fd);
    return 0;
  }
  std::string response;
  char buf[65536];
  for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;)
    response.append(buf, size_t(n));
  close(fd);
  auto header_end = response.find("\r\n\r\n");
  if (response.rfind("HTTP/1.1 ", 0) != 0 || header_end == std::string::npos)
    return 0;
  body = response.substr(header_end + 4);
  return std::stoi(response.substr(9, 3));
}

} // namespace p2p::test
