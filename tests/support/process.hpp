#pragma once
// Real processes for integration tests: p2p-agent commands run to completion, and nodes
// started in the background on a free loopback port. Every wait is bounded.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <netinet/in.h>
#include <sys/types.h>

namespace p2p::test {

struct run_result {
  int exit_code = -1;
  std::string out;
  std::string err;
};

/// A child process with stdout and stderr going to files under `dir`.
class child {
public:
  child(const std::vector<std::string>& args, const std::string& dir, const std::string& name);
  ~child();
  child(const child&) = delete;
  child& operator=(const child&) = delete;

  /// Waits up to `timeout_s` seconds; kills the child with SIGKILL past that. Returns the exit code
  /// (128 + signal when killed).
  int wait(int timeout_s);
  void signal(int sig);
  [[nodiscard]] bool running();
  [[nodiscard]] std::string out() const;
  [[nodiscard]] std::string err() const;
  [[nodiscard]] pid_t pid() const { return pid_; }

private:
  pid_t pid_ = -1;
  int status_ = -1;
  std::string out_path_, err_path_;
};

/// 127.0.0.1:port as a socket address.
sockaddr_in loopback_address(uint16_t port);

/// The first of `n` consecutive free loopback ports (bounded search; fails the test if none).
uint16_t free_ports(int n);

/// An HTTP/1.1 GET of `path` from 127.0.0.1:port; the status code (0 when unreachable) and body.
int http_get(uint16_t port, const std::string& path, std::string& body);

/// Runs `p2p-agent args...` to completion (bounded by `timeout_s`).
run_result run_agent(const std::vector<std::string>& args, const std::string& dir, int timeout_s = 300);

/// Runs any program (args[0], an absolute path) in `dir` to completion.
run_result run_program(const std::vector<std::string>& args, const std::string& dir, int timeout_s = 300);

/// A `p2p-agent node` on 127.0.0.1 with a port chosen by the OS.
class node_process {
public:
  /// Starts the node with `extra` flags and waits (bounded) until it listens.
  node_process(const std::string& dir, const std::string& config_json, const std::vector<std::string>& extra = {});
  ~node_process();

  [[nodiscard]] const std::string& address() const { return address_; }
  [[nodiscard]] const std::string& data_dir() const { return data_dir_; }
  [[nodiscard]] const std::string& config_path() const { return config_path_; }
  child& process() { return *proc_; }

  /// SIGTERM and wait for a clean exit; returns the exit code.
  int stop();
  /// SIGKILL and reap.
  void kill();

private:
  std::string dir_, data_dir_, config_path_, address_;
  std::unique_ptr<child> proc_;
};

} // namespace p2p::test
