// p2p-agent put / search / get / delete.

#include <deque>
#include <iostream>
#include <sstream>

#include "cli/commands.hpp"
#include "cli/options.hpp"
#include "vectors/filter.hpp"
#include "vectors/vector_io.hpp"

namespace p2p::cli {

namespace {

constexpr size_t put_batch_rows = 1000;
constexpr size_t search_batch_queries = 64;


/// Prints the results of queries first, first + 1, ... as --json lines or readable lines.
void print_results(size_t first, const search_result& r, bool json) {
  std::ostringstream out;
  size_t hit = 0;
  for (size_t q = 0; q < r.counts.size(); ++q) {
    if (json) {
      out << "{\"query\": " << first + q << ", \"results\": [";
      for (uint32_t i = 0; i < r.counts[q]; ++i, ++hit) {
        out << (i ? ", " : "") << "{\"id\": \"" << json_escape(r.ids[hit]) << "\", \"score\": "
            << format_float(r.scores[hit]);
        if (hit < r.metadata.size()) // stored as JSON text; "" when the vector has none
          out << ", \"metadata\": " << (r.metadata[hit].empty() ? std::string("{}") : r.metadata[hit]);
        out << "}";
      }
      out << "], \"took_us\": " << r.took_us[q];
      if (r.missing_shards > 0)
        out << ", \"partial\": true, \"missing_shards\": " << r.missing_shards;
      out << "}\n";
    } else {
      out << "query " << first + q << " (" << r.took_us[q] << " us):";
      for (uint32_t i = 0; i < r.counts[q]; ++i, ++hit) {
        out << (i ? ", " : " ") << r.ids[hit] << " " << format_float(r.scores[hit]);
        if (hit < r.metadata.size() && !r.metadata[hit].empty())
          out << " " << r.metadata[hit];
      }
      out << "\n";
    }
  }
  std::cout << out.str();
}

/// What a search could not cover, told once on stderr; whether the answer was partial.
struct partial_answers {
  uint32_t missing_shards = 0;
  std::vector<std::string> nodes;
  void note(const search_result& r) {
    if (r.missing_shards > missing_shards) {
      missing_shards = r.missing_shards;
      nodes = r.missing_nodes;
    }
  }
  /// Warns on stderr; exit 3 unless `allowed`.
  void finish(bool allowed) const {
    if (missing_shards == 0)
      return;
    std::string who;
    for (auto& n : nodes)
      who += (who.empty() ? "" : ", ") + n;
    std::string text = "partial answer: " + std::to_string(missing_shards) + " shards on " + who
                       + " (down) were not searched; results may miss their vectors";
    if (!allowed)
      throw cli_exit{exit_code::partial, text + " (--allow-partial accepts this with exit 0)"};
    std::cerr << "p2p-agent search: warning: " << text << std::endl;
  }
};

} // namespace

int run_put(int argc, char** argv) {
  client_options o;
  std::string input;
  uint64_t first_id = 0;
  size_t window = client::default_window;
  // The client's own queue stays bounded whatever the window: 64 MiB is 32 batches of 512-d
  // vectors, 8 times the default window.
  size_t window_mb = 64;
  po::options_description desc("put options");
  add_client_options(desc, o);
  desc.add_options()("input", po::value(&input)->required(), "vectors: .fvecs or .jsonl; - reads JSON Lines from standard input")(
    "first-id", po::value(&first_id), "ids of an .fvecs file's rows count from this number (default 0)")(
    "window", po::value(&window)->default_value(window),
    "batches of 1,000 vectors in flight, sent before the oldest is answered (1 to 100000)")(
    "window-mb", po::value(&window_mb)->default_value(window_mb),
    "and at most this many MiB of vectors in flight (0: no bound): what the client queues for its connection");
  po::variables_map vm;
  if (!parse_args(argc, argv,
                  "p2p-agent put [--peer H:P] --input VECS.fvecs|VECS.jsonl [--first-id N] [--collection C] [--window N] [--window-mb MB] [--json]",
                  desc, vm))
    return exit_code::ok;
  if (window < 1 || window > 100000)
    throw cli_exit{exit_code::usage, "--window: expected 1 to 100000, got " + std::to_string(window)};
  if (window_mb > 65536)
    throw cli_exit{exit_code::usage, "--window-mb: expected 0 (no bound) to 65536, got " + std::to_string(window_mb)};
  bool fvecs = input.size() >= 6 && input.compare(input.size() - 6, 6, ".fvecs") == 0;
  if (vm.count("first-id") && !fvecs)
    throw cli_exit{exit_code::usage, "--first-id: only for .fvecs input (JSON Lines name their ids)"};
  auto reader = open_input_file<vector_reader>(input);
  auto session = open_session(o);
  auto t0 = std::chrono::steady_clock::now();
  request_pipeline<uint64_t> pipeline(*session, o, window, window_mb << 20);
  size_t stored = 0, sent = 0;
  progress_line progress("put", 0, !o.json);
  vector_rows rows;
  bool more = true;
  while (more && !pipeline.error()) {
    rows.clear();
    more = reader->next(put_batch_rows, rows);
    if (rows.size() == 0)
      break;
    progress.set_total(reader->rows_total());
    if (first_id > 0)
      for (auto& id : rows.ids)
        id = std::to_string(first_id + std::stoull(id));
    vector_batch b{o.collection, rows.dim, std::move(rows.ids), std::move(rows.values), {}, {}};
    for (auto& m : rows.metadata)
      if (!m.empty()) {
        b.metadata = std::move(rows.metadata);
        break;
      }
    sent += b.ids.size();
    pipeline.send(
      [&](uint64_t n) {
        stored += n;
        progress.update(stored);
      },
      put_atom::value, std::move(b));
  }
  pipeline.drain();
  progress.finish();
  double secs = seconds_since(t0);
  std::string error = pipeline.error() ? "a batch was not stored: " + error_text(pipeline.error()) : reader->error();
  if (o.json) {
    std::cout << "{\"stored\": " << stored << ", \"collection\": \"" << json_escape(o.collection)
              << "\", \"seconds\": " << format_float(secs) << ", \"rate_per_s\": "
              << format_float(secs > 0 ? double(stored) / secs : 0);
    if (!error.empty())
      std::cout << ", \"error\": \"" << json_escape(error) << "\"";
    std::cout << "}" << std::endl;
  } else {
    std::cout << "stored " << stored << " vectors in '" << o.collection << "' in " << format_float(secs) << " s ("
              << format_float(secs > 0 ? double(stored) / secs : 0) << " vectors/s)" << std::endl;
  }
  if (pipeline.busy_retries() > 0)
    std::cerr << "p2p-agent put: the node answered busy " << pipeline.busy_retries()
              << " times (vectors.max_inflight_mb); those batches were sent again after a pause" << std::endl;
  build_graphs_before_exit(*session);
  if (!error.empty())
    throw cli_exit{exit_code::failure, error + " (" + std::to_string(stored) + " vectors stored before it)"};
  return exit_code::ok;
}

int run_search(int argc, char** argv) {
  client_options o;
  std::string input, text;
  uint32_t k = 10, ef = 0;
  bool exact = false, allow_partial = false, with_payload = false;
  std::vector<std::string> filter;
  po::options_description desc("search options");
  add_client_options(desc, o);
  desc.add_options()
    ("input", po::value(&input), "query vectors: .fvecs or .jsonl; - reads JSON Lines from standard input")
    ("text", po::value(&text), "query text (embedded with the node's embedder)")
    ("k", po::value(&k)->default_value(k), "results per query")
    ("ef", po::value(&ef), "HNSW search breadth (default: the node's vectors.hnsw.ef_search)")
    ("exact", po::bool_switch(&exact), "exact scan instead of HNSW")
    ("with-payload", po::bool_switch(&with_payload), "return each hit's metadata (\"metadata\" in --json)")
    ("filter", po::value(&filter)->composing(), "only vectors whose metadata meets KEY=VALUE, KEY=A|B, KEY!=VALUE, KEY>=N or KEY<=N (repeatable: all must hold)")
    ("allow-partial", po::bool_switch(&allow_partial), "exit 0 (with a warning) when a node is down and its shards could not be searched; without it such an answer exits 3");
  po::variables_map vm;
  if (!parse_args(argc, argv,
                  "p2p-agent search [--peer H:P] (--text STR | --input Q.fvecs|Q.jsonl) [--k 10] [--ef N] [--exact] "
                  "[--filter KEY=VALUE ...] [--with-payload] [--allow-partial] [--collection C] [--json]",
                  desc, vm))
    return exit_code::ok;
  if (input.empty() == !vm.count("text"))
    throw cli_exit{exit_code::usage, "give one of --input or --text"};
  if (k == 0)
    throw cli_exit{exit_code::usage, "--k: expected at least 1"};
  std::vector<filter_condition> conditions;
  if (auto err = parse_filters(filter, conditions); !err.empty())
    throw cli_exit{exit_code::usage, err};
  if (vm.count("text")) {
    auto session = open_session(o);
    auto r = ask<search_result>(*session, o, text_search_atom::value,
                                text_search_request{o.collection, {text}, k, ef, exact, with_payload, filter});
    print_results(0, r, o.json);
    std::cout.flush();
    partial_answers partial;
    partial.note(r);
    partial.finish(allow_partial);
    return exit_code::ok;
  }
  auto reader = open_input_file<vector_reader>(input);
  auto session = open_session(o);
  auto t0 = std::chrono::steady_clock::now();
  request_pipeline<search_result> pipeline(*session, o);
  size_t next_query = 0, answered = 0;
  partial_answers partial;
  progress_line progress("search", 0, !o.json);
  vector_rows rows;
  bool more = true;
  while (more && !pipeline.error()) {
    rows.clear();
    more = reader->next(search_batch_queries, rows);
    if (rows.size() == 0)
      break;
    search_request req{o.collection, rows.dim, std::move(rows.values), k, ef, exact, with_payload, filter};
    size_t first = next_query;
    next_query += rows.size();
    pipeline.send(
      [&, first](search_result& r) {
        print_results(first, r, o.json);
        partial.note(r);
        answered += r.counts.size();
        progress.update(answered);
      },
      search_atom::value, std::move(req));
  }
  pipeline.drain();
  progress.finish();
  std::cout.flush();
  if (pipeline.error())
    throw cli_exit{exit_code::failure, error_text(pipeline.error())};
  if (!reader->error().empty())
    throw cli_exit{exit_code::failure, reader->error() + " (" + std::to_string(answered) + " queries answered before it)"};
  if (!o.json) {
    double secs = seconds_since(t0);
    std::cerr << answered << " queries in " << format_float(secs) << " s ("
              << format_float(secs > 0 ? double(answered) / secs : 0) << " queries/s)" << std::endl;
  }
  partial.finish(allow_partial);
  return exit_code::ok;
}

int run_get(int argc, char** argv) {
  client_options o;
  std::string id;
  po::options_description desc("get options");
  add_client_options(desc, o);
  desc.add_options()("id", po::value(&id)->required(), "id of the vector");
  po::variables_map vm;
  if (!parse_args(argc, argv, "p2p-agent get [--peer H:P] --id ID [--collection C] [--json]", desc, vm))
    return exit_code::ok;
  auto session = open_session(o);
  auto rec = ask<vector_record>(*session, o, get_atom::value, o.collection, id);
  std::ostringstream vec;
  for (size_t i = 0; i < rec.values.size(); ++i)
    vec << (i ? ", " : "") << format_float(rec.values[i]);
  if (o.json) {
    std::cout << "{\"id\": \"" << json_escape(rec.id) << "\", \"vector\": [" << vec.str() << "], \"metadata\": "
              << (rec.metadata.empty() ? "{}" : rec.metadata) << "}" << std::endl;
  } else {
    std::cout << "id        " << rec.id << "\ndim       " << rec.values.size() << "\nmetadata  "
              << (rec.metadata.empty() ? "{}" : rec.metadata) << "\nvector    [" << vec.str() << "]" << std::endl;
  }
  return exit_code::ok;
}

int run_delete(int argc, char** argv) {
  client_options o;
  std::string id;
  po::options_description desc("delete options");
  add_client_options(desc, o);
  desc.add_options()("id", po::value(&id)->required(), "id of the vector");
  po::variables_map vm;
  if (!parse_args(argc, argv, "p2p-agent delete [--peer H:P] --id ID [--collection C]", desc, vm))
    return exit_code::ok;
  auto session = open_session(o);
  if (!ask<bool>(*session, o, delete_atom::value, o.collection, id))
    throw cli_exit{exit_code::failure, "not found: no id '" + id + "' in collection '" + o.collection + "'"};
  std::cout << (o.json ? "{\"deleted\": \"" + json_escape(id) + "\"}" : "deleted " + id) << std::endl;
  return exit_code::ok;
}

} // namespace p2p::cli
