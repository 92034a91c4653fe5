#include "cli/options.hpp"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
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
    ("tls-dir", po::value(&o.tls_dir), "with --peer, for a TLS cluster: ca.pem, client.pem and client.key (default: $P2P_TLS_DIR)")
    ("timeout", po::value(&o.timeout_s)->default_value(o.timeout_s), "seconds to wait for each reply");
  if (with_collection)
    desc.add_options()("collection", po::value(&o.collection)->default_value(o.collection), "collection name");
}

namespace {

/// Whether `--name` takes an unsigned number (Boost parses "-1" into one as 4294967295).
bool takes_unsigned(const po::options_description& desc, const std::string& name) {
  auto* opt = desc.find_nothrow(name, false);
  if (!opt)
    return false;
  auto* sem = opt->semantic().get();
  return dynamic_cast<const po::typed_value<uint16_t>*>(sem) || dynamic_cast<const po::typed_value<uint32_t>*>(sem)
         || dynamic_cast<const po::typed_value<uint64_t>*>(sem)
         || dynamic_cast<const po::typed_value<unsigned long long>*>(sem);
}

} // namespace

bool parse_args(int argc, char** argv, const char* synopsis, po::options_description& desc, po::variables_map& vm) {
  // A negative value of an unsigned option is named as given, not as its wrapped-around value.
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--", 0) != 0)
      continue;
    auto eq = arg.find('=');
    std::string name = arg.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
    std::string value = eq != std::string::npos ? arg.substr(eq + 1) : (i + 1 < argc ? argv[i + 1] : "");
    if (value.size() > 1 && value[0] == '-' && std::isdigit(static_cast<unsigned char>(value[1]))
        && takes_unsigned(desc, name))
      throw cli_exit{exit_code::usage, "--" + name + ": expected a number of 0 or more, got " + value};
  }
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
  auto tls_dir = o.tls_dir;
  if (tls_dir.empty())
    if (const char* env = std::getenv("P2P_TLS_DIR"))
      tls_dir = env;
  if (!o.peer.empty() && !tls_dir.empty()) {
    use_client_tls_dir(cfg, tls_dir);
    if (auto err = check_tls_files(cfg))
      throw cli_exit{exit_code::usage, "--tls-dir " + tls_dir + ": " + err.message};
  }
  auto s = o.peer.empty() ? node_session::embedded(cfg) : node_session::remote(cfg, o.peer);
  if (!s)
    throw exit_for(s.error());
  return std::move(*s);
}

cli_exit exit_for(const caf::error& err) {
  return cli_exit{exit_status(code_of(err)), error_text(err)};
}

void build_graphs_before_exit(node_session& s) {
  if (!s.is_embedded())
    return;
  if (isatty(2))
    std::cerr << "building the search graph of the new vectors (the next command opens it at once)..." << std::flush;
  caf::scoped_actor self{s.system()};
  self->request(s.node(), caf::infinite, graph_save_atom::value)
    .receive([](uint64_t) {},
             [](caf::error& e) { std::cerr << "p2p-agent: graph not saved: " << error_text(e) << std::endl; });
  if (isatty(2))
    std::cerr << " done" << std::endl;
}

} // namespace p2p::cli
