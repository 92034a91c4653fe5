// p2p-agent sample --out DIR: small data to try every command with, no download needed.

#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>

#include "cli/commands.hpp"
#include "cli/options.hpp"
#include "perf/harness/datasets.hpp"
#include "vectors/vector_io.hpp"

namespace p2p::cli {

namespace {

// Topics of the sample documents: each document mixes words of one topic with common ones, so
// that `search --text` on a topic's words finds that topic's documents first.
const char* const topics[][12] = {
  {"license", "permits", "copying", "distribution", "warranty", "software", "terms", "conditions", "notice",
   "rights", "granted", "source"},
  {"vector", "embedding", "search", "nearest", "neighbour", "index", "graph", "recall", "distance", "cosine",
   "query", "shard"},
  {"cluster", "node", "peer", "gossip", "replica", "failure", "membership", "heartbeat", "network", "message",
   "actor", "join"},
  {"storage", "durable", "write", "disk", "database", "column", "family", "batch", "log", "flush", "snapshot",
   "checkpoint"},
};
const char* const common[] = {"the", "a", "of", "and", "to", "in", "is", "for", "with", "on", "each", "every",
                              "that", "this", "by", "it", "as", "are", "when", "from"};

void write_docs(const std::string& path, size_t n) {
  std::ofstream out(path);
  std::mt19937_64 rng(7);
  for (size_t d = 0; d < n; ++d) {
    auto& topic = topics[d % std::size(topics)];
    size_t words = 40 + rng() % 80;
    std::string text;
    for (size_t w = 0; w < words; ++w) {
      text += w ? " " : "";
      text += rng() % 3 ? topic[rng() % 12] : common[rng() % std::size(common)];
    }
    out << "{\"id\": \"doc-" << d << "\", \"text\": \"" << text << ".\"}\n";
  }
  if (!out)
    throw cli_exit{exit_code::failure, path + ": cannot write"};
}

} // namespace

int run_sample(int argc, char** argv) {
  std::string out;
  size_t rows = 10000, queries = 10, docs = 200;
  uint32_t dim = 512;
  po::options_description desc("sample options");
  desc.add_options()("help,h", "show this help")("out", po::value(&out)->required(), "directory to write into (created)")(
    "rows", po::value(&rows)->default_value(rows), "vectors in vectors.fvecs")(
    "queries", po::value(&queries)->default_value(queries), "vectors in queries.fvecs")(
    "documents", po::value(&docs)->default_value(docs), "documents in docs.jsonl")(
    "dim", po::value(&dim)->default_value(dim), "dimension of the vectors (the default config takes 512)");
  po::variables_map vm;
  if (!parse_args(argc, argv, "p2p-agent sample --out DIR [--rows N] [--queries N] [--documents N] [--dim D]", desc, vm))
    return exit_code::ok;
  if (dim < 1 || dim > 65536)
    throw cli_exit{exit_code::usage, "--dim: expected 1 to 65536, got " + std::to_string(dim)};
  if (rows < 1 || queries < 1 || rows > 10000000 || queries > 1000000)
    throw cli_exit{exit_code::usage, "--rows and --queries: expected 1 to 10,000,000 and 1 to 1,000,000"};
  std::error_code ec;
  std::filesystem::create_directories(out, ec);
  if (ec)
    throw cli_exit{exit_code::failure, out + ": " + ec.message()};
  // Queries share the vectors' embedding space (the same space seed), as real queries would.
  auto base = datasets::embedding_like_vectors(rows, dim, 1);
  auto q = datasets::embedding_like_vectors(queries, dim, 2);
  if (!write_fvecs(out + "/vectors.fvecs", base.data(), rows, dim) || !write_fvecs(out + "/queries.fvecs", q.data(), queries, dim))
    throw cli_exit{exit_code::failure, out + ": cannot write the .fvecs files"};
  write_docs(out + "/docs.jsonl", docs);
  std::cout << "wrote " << out << "/vectors.fvecs (" << rows << " x " << dim << "), " << out << "/queries.fvecs ("
            << queries << "), " << out << "/docs.jsonl (" << docs << " documents)" << std::endl;
  return exit_code::ok;
}

} // namespace p2p::cli
