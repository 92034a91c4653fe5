// text_processing, embedding and ingest on a real document set: the paragraphs of this machine's
// license and copyright files, next to `wc -w` on the same file in the same run.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include <boost/program_options.hpp>

#include "perf/harness/program_options.hpp"

#include "perf/harness/bench_node.hpp"
#include "text/document_reader.hpp"
#include "text/embedder.hpp"
#include "text/text_kernels.hpp"

namespace po = boost::program_options;
using namespace p2p;

namespace {

using clock_type = std::chrono::steady_clock;

double since(clock_type::time_point t0) { return std::chrono::duration<double>(clock_type::now() - t0).count(); }

double median(std::vector<double> xs) {
  std::sort(xs.begin(), xs.end());
  return xs[xs.size() / 2];
}

/// Paragraphs (blank-line separated, 200 bytes or more) of the license and copyright files.
std::vector<std::string> paragraphs() {
  std::vector<std::string> paths;
  for (const char* dir : {"/usr/share/common-licenses", "/usr/share/doc"}) {
    if (!std::filesystem::exists(dir))
      continue;
    for (auto& e : std::filesystem::recursive_directory_iterator(dir))
      if (e.is_regular_file() && (std::string(dir) != "/usr/share/doc" || e.path().filename() == "copyright"))
        paths.push_back(e.path().string());
  }
  std::sort(paths.begin(), paths.end());
  std::vector<std::string> out;
  for (auto& p : paths) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    auto text = ss.str();
    if (find_invalid_utf8(text) != SIZE_MAX)
      continue;
    size_t pos = 0;
    while (pos < text.size()) {
      auto end = text.find("\n\n", pos);
      if (end == std::string::npos)
        end = text.size();
      if (end - pos >= 200)
        out.push_back(text.substr(pos, end - pos));
      pos = end + 2;
    }
  }
  return out;
}

double wc_seconds(const std::string& path) {
  auto t0 = clock_type::now();
  std::string cmd = "wc -w " + path + " > /dev/null";
  if (std::system(cmd.c_str()) != 0)
    throw std::runtime_error("wc failed");
  return since(t0);
}

void row(const char* figure, double value, const char* unit, const char* versus) {
  std::printf("| %-44s | %12.0f %-8s | %-34s |\n", figure, value, unit, versus);
}

} // namespace

int main(int argc, char** argv) {
  int repeats = 3;
  size_t limit = 0;
  std::string dir = "build/bench-tmp";
  po::options_description desc("text_bench options");
  desc.add_options()("help,h", "show this help")("repeats", po::value(&repeats)->default_value(repeats), "timed repetitions (median reported)")(
    "dir", po::value(&dir)->default_value(dir), "scratch directory")(
    "limit", po::value(&limit), "use only the first N documents (default: all)");
  po::variables_map vm;
  if (auto status = p2p::bench::parse_program_options("text_bench", argc, argv, desc, vm))
    return *status;
  std::filesystem::create_directories(dir);
  auto docs = paragraphs();
  if (limit > 0 && docs.size() > limit)
    docs.resize(limit);
  if (docs.empty()) {
    std::cerr << "text_bench: no documents: found no license or copyright files under /usr/share\n";
    return 1;
  }
  size_t bytes = 0;
  for (auto& d : docs)
    bytes += d.size();
  auto path = dir + "/text-docs.jsonl";
  {
    std::ofstream out(path);
    for (size_t i = 0; i < docs.size(); ++i)
      out << "{\"id\": \"" << i << "\", \"text\": \"" << json_escape(docs[i]) << "\"}\n";
  }
  double mb = double(bytes) / 1e6;
  std::printf("text_bench: %zu documents (paragraphs of this machine's license and copyright files), %.1f MB, "
              "%.0f bytes each on average\n",
              docs.size(), mb, double(bytes) / double(docs.size()));

  std::vector<double> wc, kernel, embed, node_process, node_ingest;
  hashing_embedder embedder(512);
  std::vector<float> v(512);
  size_t chunks = 0;
  for (int r = 0; r < repeats; ++r) {
    wc.push_back(wc_seconds(path));
    auto t0 = clock_type::now();
    for (auto& d : docs) {
      document_summary s;
      (void) process_document(d, 200, 20, 10, s);
    }
    kernel.push_back(since(t0));
    // Embeddings of 128-token chunks, one thread.
    std::vector<std::string_view> pieces;
    std::vector<token_span> tokens;
    for (auto& d : docs) {
      tokenize(d, tokens);
      for (auto& c : chunk_tokens(tokens, 128, 0))
        pieces.push_back(std::string_view(d).substr(c.begin, c.end - c.begin));
    }
    chunks = pieces.size();
    t0 = clock_type::now();
    for (auto& p : pieces)
      embedder.embed(p, v.data());
    embed.push_back(since(t0));
    {
      node_config cfg;
      cfg.data_dir = dir + "/text-node";
      std::filesystem::remove_all(cfg.data_dir);
      bench::bench_node node(cfg);
      size_t failed = 0;
      node_process.push_back(node.process(docs, false, failed));
      node_ingest.push_back(node.process(docs, true, failed, 64));
      if (failed)
        std::cerr << failed << " documents failed\n";
    }
    std::printf("  run %d: wc -w %.3f s, kernels %.3f s, node process %.3f s, embed %.3f s, node ingest %.3f s\n",
                r + 1, wc.back(), kernel.back(), node_process.back(), embed.back(), node_ingest.back());
  }
  double n = double(docs.size());
  std::printf("\n| %-44s | %21s | %-34s |\n", "figure", "median", "next to");
  std::printf("|%s|%s|%s|\n", std::string(46, '-').c_str(), std::string(23, '-').c_str(), std::string(36, '-').c_str());
  row("wc -w on the JSONL file (MB/s)", mb / median(wc), "MB/s", "the byte-rate floor");
  row("text processing, kernels, 1 thread (docs/s)", n / median(kernel), "docs/s", ">= 20,000 docs/s per node");
  row("text processing, kernels, 1 thread (MB/s)", mb / median(kernel), "MB/s", ">= wc -w");
  row("text processing, node, as tasks (docs/s)", n / median(node_process), "docs/s", ">= 20,000 docs/s per node");
  row("text processing, node, as tasks (MB/s)", mb / median(node_process), "MB/s", ">= wc -w");
  row("embeddings, 128-token chunks, 1 thread", double(chunks) / median(embed), "chunks/s", ">= 50,000 chunks/s");
  row("ingest end to end, embedded node (docs/s)", n / median(node_ingest), "docs/s", "documents -> searchable chunks");
  std::printf("\nguide's expectations: text processing 50-100 docs/s, embeddings 20-50/s\n");
  return 0;
}
