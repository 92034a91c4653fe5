#include "cli/options.hpp"

#include <cmath>
#include <cstdio>
#include <iostream>

#include <unistd.h>

#include "core/log.hpp"

namespace p2p::cli {

void add_client_options(po::options_description& desc, client_options& o, bool with_collection) {
  desc.add_options()
    ("help,h", "show this help")
    ("peer", po::value(&o.peer), "talk to the node published at H:P instead of an embedded node")
    ("config", po::value(&o.config_path), "node config file for the embedded node (JSON)")
    ("data-dir", po::value(&o.data_dir), "data directory of the embedded node (default ./p2p-data)")
    ("json", po::bool_switch(&o.json), "machine-readable output")
    ("timeout", po::value(&o.timeout_s)->default_value(o.timeout_s), "seconds to wait for each reply");
  if (with_collection)
    desc.add_options()("collection", po::value(&o.collection)->default_value(o.collection), "collection name");
}

bool parse_args(int argc, char** argv, const char* synopsis, po::options_description& desc, po::variables_map& vm) {
  try {
    po::store(po::command_line_parser(argc, argv).options(desc).run(), vm);
    if (vm.count("help")) {
      std::cout << "usage: " << synopsis << "\n\n" << desc << "\n";
      return false;
    }
    po::notify(vm);
  } catch (const po::error& e) {
    throw cli_exit{exit_code::usage, std::string(e.what()) + " (see --help)"};
  }
  return true;
}

node_config load_node_config(const std::string& path, const std::string& data_dir_override) {
  node_config cfg;
  if (!path.empty())
    if (auto err = load_config_file(path, cfg))
      throw cli_exit{exit_code::usage, err.message};
  if (!data_dir_override.empty())
    cfg.data_dir = data_dir_override;
  if (auto err = validate(cfg))
    throw cli_exit{exit_code::usage, err.message};
  return cfg;
}

std::unique_ptr<node_session> open_session(const client_options& o) {
  if (current_log_level() < log_level::warn)
    current_log_level() = log_level::warn; // an embedded node's start-up chatter is not the command's output
  auto cfg = load_node_config(o.config_path, o.data_dir);
  auto s = o.peer.empty() ? node_session::embedded(cfg) : node_session::remote(cfg, o.peer);
  if (!s)
    throw exit_for(s.error());
  return std::move(*s);
}

cli_exit exit_for(const caf::error& err) {
  return cli_exit{exit_status(code_of(err)), error_text(err)};
}

} // namespace p2p::cli
