// p2p-agent collection create NAME --dim N --metric M | list | drop NAME.

#include <filesystem>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "cli/commands.hpp"
#include "cli/options.hpp"
#include "core/json_writer.hpp"
#include "runtime/status_json.hpp"
#include "vectors/metric.hpp"

namespace p2p::cli {

namespace {

constexpr const char* synopsis =
  "p2p-agent collection (create NAME --dim N [--metric cosine|ip|l2] | list | drop NAME) [--peer H:P] [--json]";

} // namespace

int run_collection(int argc, char** argv) {
  // The action and the name are positional: take them out before the options are parsed.
  std::vector<std::string> words;
  std::vector<char*> rest{argv[0]};
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    bool value_of_option = i > 1 && std::string(argv[i - 1]).rfind("--", 0) == 0
                           && std::string(argv[i - 1]).find('=') == std::string::npos && std::string(argv[i - 1]) != "--json"
                           && std::string(argv[i - 1]) != "--help";
    if (a.rfind("-", 0) != 0 && !value_of_option && words.size() < 2)
      words.push_back(a);
    else
      rest.push_back(argv[i]);
  }
  client_options o;
  uint32_t dim = 0;
  std::string metric = "cosine";
  po::options_description desc("collection options");
  add_client_options(desc, o, false);
  desc.add_options()("dim", po::value(&dim), "create: the dimension of the collection's vectors (1 to 65536)")(
    "metric", po::value(&metric)->default_value(metric), "create: cosine, ip (inner product) or l2");
  po::variables_map vm;
  if (!parse_args(int(rest.size()), rest.data(), synopsis, desc, vm))
    return exit_code::ok;
  if (words.empty())
    throw cli_exit{exit_code::usage, std::string("expected create, list or drop (usage: ") + synopsis + ")"};
  const std::string& action = words[0];
  auto need_name = [&] {
    if (words.size() < 2)
      throw cli_exit{exit_code::usage, action + ": expected a collection name (usage: " + synopsis + ")"};
    return words[1];
  };
  if (action == "create") {
    auto name = need_name();
    if (!vm.count("dim"))
      throw cli_exit{exit_code::usage, "create: --dim is required"};
    if (dim < 1 || dim > 65536)
      throw cli_exit{exit_code::usage, "--dim: expected 1 to 65536, got " + std::to_string(dim)};
    auto m = parse_metric(metric);
    if (!m)
      throw cli_exit{exit_code::usage, "--metric: expected cosine, ip or l2, got '" + metric + "'"};
    auto session = open_session(o);
    bool created = ask<bool>(*session, o, collection_create_atom::value, collection_spec{name, dim, uint8_t(*m)});
    if (o.json) {
      json_writer w;
      w.begin_object().field("collection", name).field("created", created).field("dim", dim).field("metric", to_string(*m));
      std::cout << w.end_object().str() << std::endl;
    } else
      std::cout << (created ? "created collection '" : "collection '") << name << (created ? "' (" : "' already exists (")
                << "dim " << dim << ", " << to_string(*m) << ")" << std::endl;
    return exit_code::ok;
  }
  if (action == "drop") {
    auto name = need_name();
    auto session = open_session(o);
    auto removed = ask<uint64_t>(*session, o, collection_drop_atom::value, name);
    if (o.json) {
      json_writer w;
      std::cout << w.begin_object().field("dropped", name).field("vectors_removed", removed).end_object().str() << std::endl;
    } else
      std::cout << "dropped collection '" << name << "' (" << removed << " stored vectors removed, replicas included)"
                << std::endl;
    return exit_code::ok;
  }
  if (action == "list") {
    if (words.size() > 1)
      throw cli_exit{exit_code::usage, "list: takes no name (usage: " + std::string(synopsis) + ")"};
    auto session = open_session(o);
    auto list = ask<std::vector<collection_info>>(*session, o, collection_list_atom::value);
    std::ostringstream out;
    if (o.json) {
      json_writer w; // the same objects as GET /collections
      w.begin_object().key("collections").begin_array();
      for (auto& c : list)
        write_collection(w, c);
      out << w.end_array().end_object().str() << "\n";
    } else if (list.empty()) {
      out << "no collections\n";
    } else {
      out << std::left << std::setw(24) << "name" << std::right << std::setw(7) << "dim" << "  " << std::left
          << std::setw(7) << "metric" << std::right << std::setw(12) << "vectors" << std::setw(10) << "pending"
          << "  replication\n";
      for (auto& c : list)
        out << std::left << std::setw(24) << c.name << std::right << std::setw(7) << c.dim << "  " << std::left
            << std::setw(7) << c.metric << std::right << std::setw(12) << c.count << std::setw(10) << c.pending << "  "
            << (c.under_replicated ? std::to_string(c.under_replicated) + " virtual shards under-replicated" : "ok")
            << "\n";
    }
    std::cout << out.str();
    return exit_code::ok;
  }
  throw cli_exit{exit_code::usage, "unknown action '" + action + "': expected create, list or drop"};
}

} // namespace p2p::cli

namespace p2p::cli {

int run_snapshot(int argc, char** argv) {
  client_options o;
  std::string out;
  po::options_description desc("snapshot options");
  add_client_options(desc, o, false);
  desc.add_options()("out", po::value(&out)->required(),
                     "a new directory for the copy (on the node's host with --peer); absolute paths are safest");
  po::variables_map vm;
  if (!parse_args(argc, argv, "p2p-agent snapshot --out DIR [--peer H:P]", desc, vm))
    return exit_code::ok;
  std::error_code ec;
  if (o.peer.empty()) {
    if (std::filesystem::exists(out, ec))
      throw cli_exit{exit_code::usage, "--out: " + out + " exists already; name a new directory"};
    out = std::filesystem::absolute(out, ec).string();
  } else if (!std::filesystem::path(out).is_absolute()) {
    throw cli_exit{exit_code::usage, "--out: give an absolute path with --peer (the node writes it, on its host)"};
  }
  auto session = open_session(o);
  auto summary = ask<std::string>(*session, o, snapshot_atom::value, out);
  if (o.json) {
    json_writer w;
    std::cout << w.begin_object().field("snapshot", out).end_object().str() << std::endl;
  } else
    std::cout << summary << "; start a node on it with: p2p-agent restore --from " << out << " --data-dir NEW_DIR"
              << std::endl;
  return exit_code::ok;
}

int run_restore(int argc, char** argv) {
  std::string from, data_dir;
  po::options_description desc("restore options");
  desc.add_options()("help,h", "show this help")("from", po::value(&from)->required(), "a directory written by p2p-agent snapshot")(
    "data-dir", po::value(&data_dir)->required(), "the new node's data directory (must not exist, or be empty)");
  po::variables_map vm;
  if (!parse_args(argc, argv, "p2p-agent restore --from SNAPSHOT_DIR --data-dir DIR", desc, vm))
    return exit_code::ok;
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::exists(fs::path(from) / "CURRENT", ec))
    throw cli_exit{exit_code::usage, "--from: " + from + " is not a snapshot (no CURRENT file)"};
  if (fs::exists(data_dir, ec) && !fs::is_empty(data_dir, ec))
    throw cli_exit{exit_code::usage, "--data-dir: " + data_dir + " is not empty; restore into a new directory"};
  fs::copy(from, data_dir, fs::copy_options::recursive, ec);
  if (ec)
    throw cli_exit{exit_code::failure, "restore into " + data_dir + ": " + ec.message()};
  std::cout << "restored " << from << " into " << data_dir << "; start it with: p2p-agent node --config FILE --data-dir "
            << data_dir << std::endl;
  return exit_code::ok;
}

} // namespace p2p::cli
