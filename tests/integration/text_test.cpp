// Documents through a real node: ingest a corpus made at test time from this machine's text
// files, find documents again by a sentence of theirs, process them, and refuse bad documents.

#include <doctest/doctest.h>

#include <chrono>
#include <filesystem>
#include <thread>
#include <fstream>
#include <numeric>
#include <random>
#include <sstream>
#include <unordered_map>
#include <unordered_set>
#include <algorithm>

#include <simdjson.h>

#include "tests/support/cli_output.hpp"
#include "tests/support/data.hpp"
#include "tests/support/process.hpp"
#include "text/document_reader.hpp"
#include "text/embedder.hpp"
#include "vectors/distance.hpp"
#include "text/text_kernels.hpp"

using namespace p2p;
using namespace p2p::test;

namespace {

struct corpus_doc {
  std::string id;
  std::string text;
};

/// Text files of this machine: the common licenses and package copyright files (valid UTF-8),
/// leaving out near-duplicates (several packages of one source ship the same copyright file
/// with small changes), so that "its own chunk comes first" is a fair question.
std::vector<corpus_doc> machine_corpus(size_t max_docs) {
  hashing_embedder embed(512);
  std::vector<std::vector<float>> kept;
  std::vector<std::string> paths;
  for (auto& e : std::filesystem::directory_iterator("/usr/share/common-licenses"))
    if (e.is_regular_file())
      paths.push_back(e.path().string());
  if (std::filesystem::exists("/usr/share/doc"))
    for (auto& e : std::filesystem::directory_iterator("/usr/share/doc"))
      if (std::filesystem::is_regular_file(e.path() / "copyright"))
        paths.push_back((e.path() / "copyright").string());
  std::sort(paths.begin(), paths.end());
  std::vector<corpus_doc> out;
  for (auto& p : paths) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    auto text = ss.str();
    if (text.size() < 200 || text.size() > max_document_bytes || find_invalid_utf8(text) != SIZE_MAX)
      continue;
    std::vector<float> v(512);
    embed.embed(text, v.data());
    bool near_duplicate = false;
    for (auto& k : kept)
      near_duplicate = near_duplicate || dot(k.data(), v.data(), 512) > 0.8f;
    if (near_duplicate)
      continue;
    kept.push_back(std::move(v));
    auto id = std::filesystem::path(p).parent_path().filename().string() + "." +
              std::filesystem::path(p).filename().string();
    out.push_back({id, text});
    if (out.size() == max_docs)
      break;
  }
  return out;
}

void write_jsonl(const std::string& path, const std::vector<corpus_doc>& docs) {
  std::ofstream out(path);
  for (auto& d : docs)
    out << "{\"id\": \"" << json_escape(d.id) << "\", \"text\": \"" << json_escape(d.text) << "\"}\n";
}

/// How many documents each lowercase word occurs in.
std::unordered_map<std::string, size_t> document_frequency(const std::vector<corpus_doc>& docs) {
  std::unordered_map<std::string, size_t> df;
  std::vector<token_span> tokens;
  std::string term;
  for (auto& d : docs) {
    tokenize(d.text, tokens);
    std::unordered_set<std::string> seen;
    for (auto& t : tokens) {
      lowercase_into(std::string_view(d.text).substr(t.begin, t.end - t.begin), term);
      if (seen.insert(term).second)
        ++df[term];
    }
  }
  return df;
}

/// A run of 20 words of `doc` that no other document contains and that has at least 3 words
/// found in at most 2 documents (so it says something of this document, not of a license many
/// packages share), or "".
std::string distinctive_sentence(const corpus_doc& doc, const std::vector<corpus_doc>& all,
                                 const std::unordered_map<std::string, size_t>& df, std::mt19937& rng) {
  std::vector<token_span> tokens;
  tokenize(doc.text, tokens);
  if (tokens.size() < 40)
    return {};
  std::string term;
  for (int attempt = 0; attempt < 200; ++attempt) {
    size_t first = std::uniform_int_distribution<size_t>(0, tokens.size() - 21)(rng);
    size_t rare = 0;
    for (size_t t = first; t < first + 20; ++t) {
      lowercase_into(std::string_view(doc.text).substr(tokens[t].begin, tokens[t].end - tokens[t].begin), term);
      rare += df.at(term) <= 2 ? 1 : 0;
    }
    if (rare < 3)
      continue;
    auto sentence = doc.text.substr(tokens[first].begin, tokens[first + 19].end - tokens[first].begin);
    bool unique = true;
    for (auto& other : all)
      if (&other != &doc && other.text.find(sentence) != std::string::npos)
        unique = false;
    if (unique)
      return sentence;
  }
  return {};
}

} // namespace

TEST_CASE("ingested documents are found again by a sentence of theirs in the top 3") {
  auto dir = fresh_dir("ingest-corpus");
  auto docs = machine_corpus(400);
  REQUIRE_MESSAGE(docs.size() >= 10, "too few text files on this machine");
  write_jsonl(dir + "/docs.jsonl", docs);
  // Hashed text embeddings are sparse and spread out: a wider HNSW search (ef 200) finds the
  // exact top 3 for every sampled sentence here, where the default 64 missed one of 30.
  node_process node(dir, R"({"vectors": {"dim": 512, "hnsw": {"ef_search": 200}}})");
  auto ingest = run_agent({"ingest", "--peer", node.address(), "--input", dir + "/docs.jsonl", "--chunk-size", "48",
                           "--overlap", "24", "--json"},
                          dir);
  REQUIRE_MESSAGE(ingest.exit_code == 0, ingest.err);
  CHECK(json_number(ingest.out, "documents") == double(docs.size()));
  CHECK(json_number(ingest.out, "failed") == 0);
  auto chunks = json_number(ingest.out, "chunks");
  auto status = run_agent({"status", "--peer", node.address(), "--json"}, dir);
  CHECK(double(parse_status(status.out).count) == chunks);

  // Search the HNSW graphs once every chunk is in them: the same graphs, the same answers.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  bool indexed = false;
  while (!indexed && std::chrono::steady_clock::now() < deadline) {
    auto s = run_agent({"status", "--peer", node.address(), "--json"}, dir);
    indexed = s.exit_code == 0 && parse_status(s.out).count > 0 && parse_status(s.out).pending == 0;
    if (!indexed)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  REQUIRE_MESSAGE(indexed, "chunks still wait for the HNSW graph after 120 s");
  std::mt19937 rng(7);
  auto df = document_frequency(docs);
  size_t asked = 0, found = 0;
  std::vector<size_t> order(docs.size());
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), rng);
  for (size_t i : order) {
    if (asked == 30)
      break;
    auto sentence = distinctive_sentence(docs[i], docs, df, rng);
    if (sentence.empty())
      continue;
    ++asked;
    auto r = run_agent({"search", "--peer", node.address(), "--text", sentence, "--k", "3", "--json"}, dir);
    REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    auto lines = parse_search(r.out);
    REQUIRE(lines.size() == 1);
    bool hit = false;
    for (auto& id : lines[0].ids)
      hit = hit || id.rfind(docs[i].id + "#", 0) == 0;
    found += hit;
    if (!hit)
      MESSAGE("not in top 3: '" << sentence << "' of " << docs[i].id);
  }
  MESSAGE(found << " of " << asked << " sampled documents found by a sentence");
  CHECK(asked >= 10);
  CHECK(found == asked);

  // A chunk's metadata names its document, its bytes in the original text and the text itself,
  // and search --with-payload hands it back with each hit.
  auto get = run_agent({"get", "--peer", node.address(), "--id", docs[0].id + "#1", "--json"}, dir);
  REQUIRE_MESSAGE(get.exit_code == 0, get.err);
  std::string metadata;
  parse_get(get.out, &metadata);
  CHECK(metadata.find("\"doc\":\"" + docs[0].id + "\"") != std::string::npos);
  size_t cut = std::min<size_t>(300, docs[0].text.size());
  while (cut < docs[0].text.size() && (static_cast<unsigned char>(docs[0].text[cut]) & 0xC0) == 0x80)
    --cut; // on a character boundary
  auto with = run_agent({"search", "--peer", node.address(), "--text", docs[0].text.substr(0, cut), "--k", "3",
                         "--with-payload", "--json"},
                        dir);
  REQUIRE_MESSAGE(with.exit_code == 0, with.err);
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  REQUIRE(parser.parse(with.out).get(doc) == simdjson::SUCCESS);
  size_t checked = 0;
  for (auto r : doc["results"].get_array()) {
    std::string id{std::string_view(r["id"])};
    std::string source{std::string_view(r["metadata"]["doc"])};
    auto it = std::find_if(docs.begin(), docs.end(), [&](auto& d) { return d.id == source; });
    REQUIRE(it != docs.end());
    CHECK(id.rfind(source + "#", 0) == 0);
    uint64_t begin = r["metadata"]["begin"], end = r["metadata"]["end"];
    CHECK(std::string_view(r["metadata"]["text"]) == std::string_view(it->text).substr(begin, end - begin));
    ++checked;
  }
  CHECK(checked == 3);
  CHECK(node.stop() == 0);
}

TEST_CASE("process reports words, top terms and chunk offsets into the original text") {
  auto dir = fresh_dir("process");
  std::ofstream(dir + "/docs.jsonl") << R"({"id": "a", "text": "One two three four five six seven"})" "\n"
                                     << R"({"id": "b", "text": "  Ünïcode  Ünïcode words  "})" "\n";
  auto r = run_agent({"process", "--data-dir", dir + "/data", "--input", dir + "/docs.jsonl", "--chunk-size", "3",
                      "--overlap", "1", "--top", "2", "--json"},
                     dir);
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  CHECK(r.out == "{\"id\": \"a\", \"words\": 7, \"top_terms\": [[\"five\", 1], [\"four\", 1]], "
                 "\"chunks\": [[0, 13], [8, 23], [19, 33]]}\n"
                 "{\"id\": \"b\", \"words\": 3, \"top_terms\": [[\"ünïcode\", 2], [\"words\", 1]], "
                 "\"chunks\": [[2, 28]]}\n");
}

TEST_CASE("bad documents are named and skipped while the rest of the batch and the node go on") {
  auto dir = fresh_dir("bad-documents");
  {
    std::ofstream out(dir + "/docs.jsonl", std::ios::binary);
    out << R"({"id": "good1", "text": "alpha beta gamma"})" "\n"
        << R"({"id": "broken", "text": "no end)" "\n"
        << R"({"id": "notext"})" "\n"
        << "{\"id\": \"latin1\", \"text\": \"caf\xE9\"}\n"
        << R"({"id": "huge", "text": ")" << std::string(50u << 20, 'x') << "\"}\n"
        << R"({"id": "good2", "text": "delta epsilon"})" "\n"
        << R"({"id": "number", "text": 42})" "\n";
  }
  node_process node(dir, R"({"vectors": {"dim": 64}})");
  auto r = run_agent({"ingest", "--peer", node.address(), "--input", dir + "/docs.jsonl", "--json"}, dir);
  CHECK(r.exit_code == 1);
  CHECK(json_number(r.out, "documents") == 2);
  CHECK(json_number(r.out, "failed") == 5);
  CHECK(r.err.find(dir + "/docs.jsonl: line 7: \"text\" must be a string") != std::string::npos);
  CHECK(r.err.find(dir + "/docs.jsonl: line 2: invalid JSON") != std::string::npos);
  CHECK(r.err.find(dir + "/docs.jsonl: line 3: document without \"text\"") != std::string::npos);
  CHECK(r.err.find(dir + "/docs.jsonl: line 4: invalid UTF-8") != std::string::npos);
  CHECK(r.err.find(dir + "/docs.jsonl: line 5: line of 52428826 bytes, over the document limit") != std::string::npos);
  CHECK(run_agent({"get", "--peer", node.address(), "--id", "good2#0"}, dir).exit_code == 0);

  auto overlap = run_agent({"ingest", "--peer", node.address(), "--input", dir + "/docs.jsonl", "--chunk-size", "8",
                            "--overlap", "8"},
                           dir);
  CHECK(overlap.exit_code == 2);
  CHECK(overlap.err.find("--overlap 8 must be smaller than --chunk-size 8") != std::string::npos);

  // process names the same lines and counts the two good documents as processed.
  auto processed = run_agent({"process", "--peer", node.address(), "--input", dir + "/docs.jsonl"}, dir);
  CHECK(processed.exit_code == 1);
  CHECK(processed.err.find("line 7: \"text\" must be a string") != std::string::npos);
  CHECK(processed.err.find("processed 2 documents") != std::string::npos);
  CHECK(processed.err.find("; 5 failed") != std::string::npos);

  auto status = run_agent({"status", "--peer", node.address(), "--json"}, dir);
  CHECK(status.exit_code == 0);
  CHECK(parse_status(status.out).count == 2);
  CHECK(node.stop() == 0);
}

TEST_CASE("--input - reads documents and vectors as JSON Lines from standard input") {
  auto dir = fresh_dir("stdin-input");
  std::ofstream(dir + "/docs.jsonl") << R"({"id": "s1", "text": "standard input carries these words"})" "\n"
                                     << R"({"id": "s2", "text": 7})" "\n";
  std::ofstream(dir + "/vecs.jsonl") << R"({"id": "v1", "vector": [1, 0, 0, 0]})" "\n"
                                     << R"({"id": "v2", "vector": [0, 1, 0, 0]})" "\n";
  std::ofstream(dir + "/config.json") << R"({"vectors": {"dim": 4}})";
  auto sh = [&](const std::string& cmd) { return run_program({"/bin/bash", "-c", cmd}, dir, 60); };
  std::string agent = P2P_AGENT_BIN;
  auto processed = sh(agent + " process --input - --data-dir " + dir + "/d1 --json < " + dir + "/docs.jsonl");
  CHECK(processed.exit_code == 1); // one bad line, named by its place in stdin
  CHECK(processed.out.find("{\"id\": \"s1\", \"words\": 5") != std::string::npos);
  CHECK(processed.err.find("stdin: line 2: \"text\" must be a string") != std::string::npos);
  auto put = sh("cat " + dir + "/vecs.jsonl | " + agent + " put --input - --config " + dir + "/config.json --data-dir "
                + dir + "/d2 --json");
  REQUIRE_MESSAGE(put.exit_code == 0, put.err);
  CHECK(json_number(put.out, "stored") == 2);
  auto search = sh("echo '{\"vector\": [0.9, 0.1, 0, 0]}' | " + agent + " search --input - --k 1 --config " + dir
                   + "/config.json --data-dir " + dir + "/d2 --json");
  REQUIRE_MESSAGE(search.exit_code == 0, search.err);
  auto lines = parse_search(search.out);
  REQUIRE(lines.size() == 1);
  CHECK(lines[0].ids == std::vector<std::string>{"v1"});
}

TEST_CASE("embed writes each document's embedding as vectors JSON Lines that put stores and search finds") {
  auto dir = fresh_dir("embed");
  auto docs = machine_corpus(40);
  REQUIRE(docs.size() >= 20);
  write_jsonl(dir + "/docs.jsonl", docs);
  node_process node(dir, "{}");
  auto r = run_agent({"embed", "--peer", node.address(), "--input", dir + "/docs.jsonl", "--out", dir + "/vecs.jsonl"},
                     dir);
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  CHECK(r.err.find("embedded " + std::to_string(docs.size()) + " documents (512-d)") != std::string::npos);
  // Every line is the document's id and the embedder's vector, float for float.
  simdjson::dom::parser parser;
  simdjson::dom::document_stream lines;
  REQUIRE(parser.load_many(dir + "/vecs.jsonl").get(lines) == simdjson::SUCCESS);
  hashing_embedder embed(512);
  std::vector<float> expected(512);
  size_t i = 0;
  for (auto line : lines) {
    REQUIRE(i < docs.size());
    simdjson::dom::element e;
    REQUIRE(line.get(e) == simdjson::SUCCESS);
    CHECK(std::string_view(e["id"]) == docs[i].id);
    embed.embed(docs[i].text, expected.data());
    simdjson::dom::array v = e["vector"];
    REQUIRE(v.size() == 512);
    size_t j = 0, same = 0;
    for (double x : v)
      same += float(x) == expected[j++];
    CHECK(same == 512);
    ++i;
  }
  CHECK(i == docs.size());
  // put reads them as they are; each one, searched for, finds its own document first.
  auto put = run_agent({"put", "--peer", node.address(), "--input", dir + "/vecs.jsonl", "--collection", "docs", "--json"},
                       dir);
  REQUIRE_MESSAGE(put.exit_code == 0, put.err);
  CHECK(json_number(put.out, "stored") == double(docs.size()));
  auto search = run_agent({"search", "--peer", node.address(), "--input", dir + "/vecs.jsonl", "--collection", "docs",
                           "--k", "1", "--json"},
                          dir);
  REQUIRE_MESSAGE(search.exit_code == 0, search.err);
  auto found = parse_search(search.out);
  REQUIRE(found.size() == docs.size());
  for (size_t q = 0; q < docs.size(); ++q)
    CHECK(found[q].ids == std::vector<std::string>{docs[q].id});
  // A bad --dim is a usage error; a bad document is named and the others still come out.
  CHECK(run_agent({"embed", "--peer", node.address(), "--input", dir + "/docs.jsonl", "--dim", "0"}, dir).exit_code
        == 2);
  std::ofstream(dir + "/mixed.jsonl") << R"({"id": "ok", "text": "alpha beta"})" "\n" << R"({"id": "bad"})" "\n";
  auto mixed = run_agent({"embed", "--peer", node.address(), "--input", dir + "/mixed.jsonl", "--dim", "4"}, dir);
  CHECK(mixed.exit_code == 1);
  CHECK(mixed.out.rfind("{\"id\": \"ok\", \"vector\": [", 0) == 0);
  CHECK(mixed.err.find("line 2: document without \"text\"") != std::string::npos);
  CHECK(node.stop() == 0);
}
