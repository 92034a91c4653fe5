#pragma once
// Shared pieces of the p2p-agent subcommands: option sets, config loading, exit codes, and
// requests that end the command with the error's exit status.

#include <memory>
#include <string>

#include <boost/program_options.hpp>

#include "config/node_config.hpp"
#include "runtime/actor_runtime.hpp"
#include "runtime/client.hpp"
#include "text/document_reader.hpp"

namespace p2p::cli {

namespace po = boost::program_options;

// partial: an answer that could not cover every shard (a node is down); --allow-partial makes it 0.
enum exit_code : int { ok = 0, failure = 1, usage = 2, partial = 3 };

/// Thrown by subcommands to end with a message and an exit code.
struct cli_exit {
  int code;
  std::string message;
};

using client::client_options;
using client::format_float;
using client::progress_line;
using client::request_pipeline;
using client::seconds_since;

/// The exit status and message for an error from a node or the runtime.
[[nodiscard]] cli_exit exit_for(const caf::error& err);

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

/// An embedded node indexes what is still pending and saves its graphs before the command
/// ends, so that the next command on the data dir opens them at once; nothing for --peer.
void build_graphs_before_exit(node_session& s);

/// Sends (xs...) to the session's node and waits for the reply of type R; an error ends the
/// command with the exit status of its code.
template <class R, class... Ts>
R ask(node_session& s, const client_options& o, Ts&&... xs) {
  auto r = client::try_ask<R>(s, o, std::forward<Ts>(xs)...);
  if (!r)
    throw exit_for(r.error());
  return std::move(*r);
}

} // namespace p2p::cli
