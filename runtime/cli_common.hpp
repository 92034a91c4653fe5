#pragma once
// Shared pieces of the p2p-agent subcommands: option sets, config loading, exit codes,
// JSON output helpers and the progress line.

#include <chrono>
#include <memory>
#include <string>

#include <boost/program_options.hpp>

#include "actors/protocol.hpp"
#include "config/node_config.hpp"
#include "runtime/actor_runtime.hpp"
#include "text/document_reader.hpp"

namespace p2p::cli {

namespace po = boost::program_options;

enum exit_code : int { ok = 0, failure = 1, usage = 2 };

/// Thrown by subcommands to end with a message and an exit code.
struct cli_exit {
  int code;
  std::string message;
};

/// Options every client command takes.
struct client_options {
  std::string peer;
  std::string config_path;
  std::string data_dir;
  std::string collection = "default";
  bool json = false;
  unsigned timeout_s = 120;
};

void add_client_options(po::options_description& desc, client_options& o, bool with_collection = true);

/// Parses `argv` against `desc`; prints help and returns false for --help. Usage errors throw.
bool parse_args(int argc, char** argv, const char* synopsis, po::options_description& desc,
                po::variables_map& vm);

/// The node config: defaults, then --config FILE, then --data-dir. Config errors throw (exit 2).
node_config load_node_config(const std::string& path, const std::string& data_dir_override);

/// Opens an input file with Reader::open (vector_reader, document_reader); failures throw (exit 1).
template <class Reader>
std::unique_ptr<Reader> open_input_file(const std::string& path) {
  std::string error;
  auto reader = Reader::open(path, error);
  if (!reader)
    throw cli_exit{exit_code::failure, error};
  return reader;
}

/// Opens the embedded node or connects to --peer; failures throw (exit 1).
std::unique_ptr<node_session> open_session(const client_options& o);

using p2p::json_escape;
[[nodiscard]] std::string format_float(double v);

/// A one-line progress display on stderr; silent unless stderr is a terminal and enabled.
class progress_line {
public:
  progress_line(std::string what, size_t total, bool enabled);
  ~progress_line();
  void update(size_t done);
  void finish();

private:
  std::string what_;
  size_t total_;
  bool enabled_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_{};
};

/// Sends (xs...) to the session's node and waits for the reply of type R.
template <class R, class... Ts>
R ask(node_session& s, const client_options& o, Ts&&... xs) {
  caf::scoped_actor self{s.system()};
  R out{};
  caf::error err;
  auto h = self->request(s.node(), std::chrono::seconds(o.timeout_s), std::forward<Ts>(xs)...);
  s.watch(self.ptr(), h.id());
  h.receive([&](R& r) { out = std::move(r); }, [&](caf::error& e) { err = std::move(e); });
  if (err)
    throw cli_exit{exit_code::failure, error_text(err)};
  return out;
}

} // namespace p2p::cli
