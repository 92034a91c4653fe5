// p2p-agent: the one binary of p2p-ai-agents. See DESIGN.md §6 for the command line.

#include <cstring>
#include <iostream>

#include "cli/commands.hpp"
#include "cli/options.hpp"
#include "core/allocator.hpp"
#include "core/version.hpp"

namespace {

struct subcommand {
  const char* name;
  int (*run)(int, char**);
  const char* summary;
};

const subcommand subcommands[] = {
  {"node", p2p::cli::run_node, "run a node from a config file until SIGINT/SIGTERM"},
  {"status", p2p::cli::run_status, "show a node's state: collections, memory, uptime"},
  {"peers", p2p::cli::run_peers, "list the cluster's members as this node sees them"},
  {"put", p2p::cli::run_put, "store vectors from an .fvecs or JSONL file"},
  {"search", p2p::cli::run_search, "top-k search: query vectors from a file, or --text"},
  {"get", p2p::cli::run_get, "fetch one vector and its metadata"},
  {"delete", p2p::cli::run_delete, "delete one vector"},
  {"collection", p2p::cli::run_collection, "create NAME --dim N --metric M, list, or drop NAME: collections of vectors"},
  {"snapshot", p2p::cli::run_snapshot, "a consistent copy of a running node's data (--out DIR)"},
  {"restore", p2p::cli::run_restore, "a snapshot into a new data dir (--from DIR --data-dir D)"},
  {"leave", p2p::cli::run_leave, "make a node leave the cluster gracefully: its vectors move to the others, then it stops"},
  {"forget", p2p::cli::run_forget, "drop a down node for good: its keys go to the others (its vectors are lost with it)"},
  {"send", p2p::cli::run_send, "send a message to an agent on any peer: --to PEER_ID/AGENT"},
  {"process", p2p::cli::run_process, "text processing of JSONL documents: words, top terms, chunks"},
  {"embed", p2p::cli::run_embed, "embeddings of JSONL documents as vectors JSONL (what put --input reads)"},
  {"ingest", p2p::cli::run_ingest, "documents to embedded, searchable chunks (DOC#N)"},
  {"sample", p2p::cli::run_sample, "write small docs.jsonl, vectors.fvecs and queries.fvecs to try the commands with"},
  {"bench", p2p::cli::run_bench, "run a perf scenario (perf/scenarios/*.json) and print its figures"},
};

void print_usage(std::ostream& out) {
  out << "usage: p2p-agent COMMAND [OPTIONS]   (p2p-agent COMMAND --help for its options)\n"
         "       p2p-agent --version\n\ncommands:\n";
  for (auto& c : subcommands)
    out << "  " << c.name << std::string(11 - std::strlen(c.name), ' ') << c.summary << "\n";
  out << "\nWithout --peer H:P a command runs on an embedded node with its data in --data-dir (./p2p-data).\n";
}

} // namespace

int main(int argc, char** argv) {
  p2p::keep_freed_memory();
  if (argc < 2) {
    print_usage(std::cerr);
    return p2p::cli::exit_code::usage;
  }
  std::string name = argv[1];
  if (name == "--help" || name == "-h" || name == "help") {
    print_usage(std::cout);
    return p2p::cli::exit_code::ok;
  }
  if (name == "--version" || name == "version") {
    std::cout << "p2p-agent " << p2p::version << "\n";
    return p2p::cli::exit_code::ok;
  }
  for (auto& c : subcommands) {
    if (name != c.name)
      continue;
    try {
      return c.run(argc - 1, argv + 1);
    } catch (const p2p::cli::cli_exit& e) {
      std::cerr << "p2p-agent " << name << ": " << e.message << std::endl;
      return e.code;
    } catch (const std::exception& e) {
      std::cerr << "p2p-agent " << name << ": " << e.what() << std::endl;
      return p2p::cli::exit_code::failure;
    }
  }
  std::cerr << "p2p-agent: unknown command '" << name << "'\n";
  print_usage(std::cerr);
  return p2p::cli::exit_code::usage;
}
