// p2p-agent process / embed / ingest: documents from JSON Lines through the node's text workers.

#include <fstream>
#include <iostream>
#include <sstream>

#include "cli/commands.hpp"
#include "cli/options.hpp"
#include "tasks/task.hpp"
#include "tasks/task_kernels.hpp"

namespace p2p::cli {

namespace {

struct text_options {
  std::string input;
  uint32_t chunk_size = 200;
  uint32_t overlap = 20;
  uint32_t top = 10;
};

void add_text_options(po::options_description& desc, text_options& t) {
  desc.add_options()
    ("input", po::value(&t.input)->required(), "documents: JSON Lines of {\"id\": ..., \"text\": ...}; - reads standard input")
    ("chunk-size", po::value(&t.chunk_size)->default_value(t.chunk_size), "tokens per chunk")
    ("overlap", po::value(&t.overlap)->default_value(t.overlap), "tokens shared by consecutive chunks");
}

void check_chunking(const text_options& t) {
  if (t.chunk_size == 0)
    throw cli_exit{exit_code::usage, "--chunk-size: expected at least 1"};
  if (t.overlap >= t.chunk_size)
    throw cli_exit{exit_code::usage, "--overlap " + std::to_string(t.overlap) + " must be smaller than --chunk-size "
                                       + std::to_string(t.chunk_size)};
}

/// Reads the next batch of documents; reports bad lines on stderr. False at the end.
bool next_batch(document_reader& reader, size_t max_docs, size_t max_bytes, document_batch& b, size_t& failed) {
  std::vector<document> docs;
  std::vector<std::string> errors;
  bool more = reader.next(max_docs, max_bytes, docs, errors);
  for (auto& e : errors)
    std::cerr << "p2p-agent: " << e << "\n";
  failed += errors.size();
  b.ids.clear();
  b.texts.clear();
  for (auto& d : docs) {
    b.ids.push_back(std::move(d.id));
    b.texts.push_back(std::move(d.text));
  }
  return more || !b.ids.empty();
}

/// Prints one line per document of a batch of text_processing tasks; counts failures.
void print_outcomes(const std::vector<std::string>& doc_ids, const task_outcomes& r, bool json, size_t& failed) {
  std::ostringstream out;
  for (size_t i = 0; i < r.ids.size(); ++i) {
    auto state = task_state(r.states[i]);
    if (state != task_state::completed) {
      std::cerr << "p2p-agent: document '" << doc_ids[i] << "': task " << r.ids[i] << " " << to_string(state) << ": "
                << r.errors[i] << "\n";
      ++failed;
      if (json)
        out << "{\"id\": \"" << json_escape(doc_ids[i]) << "\", \"task\": " << r.ids[i] << ", \"state\": \""
            << to_string(state) << "\", \"error\": \"" << json_escape(r.errors[i]) << "\"}\n";
      continue;
    }
    if (json) // the task's result is {"words": ..., ...}: put the id first
      out << "{\"id\": \"" << json_escape(doc_ids[i]) << "\", " << std::string_view(r.results[i]).substr(1) << "\n";
    else
      out << doc_ids[i] << ": " << r.results[i] << "\n";
  }
  std::cout << out.str();
}

/// The task priority --priority names; a usage error for any other word.
task_priority priority_option(const std::string& name) {
  auto p = parse_priority(name);
  if (!p)
    throw cli_exit{exit_code::usage, "--priority: expected low, normal, high or critical, got '" + name + "'"};
  return *p;
}

} // namespace

int run_process(int argc, char** argv) {
  client_options o;
  text_options t;
  po::options_description desc("process options");
  add_client_options(desc, o, false);
  add_text_options(desc, t);
  std::string priority_name = "normal";
  desc.add_options()
    ("top", po::value(&t.top)->default_value(t.top), "top terms per document")
    ("priority", po::value(&priority_name)->default_value(priority_name), "task priority: low, normal, high, critical");
  po::variables_map vm;
  if (!parse_args(argc, argv,
                  "p2p-agent process [--peer H:P] --input DOCS.jsonl [--chunk-size N] [--overlap N] [--top N] [--json]",
                  desc, vm))
    return exit_code::ok;
  check_chunking(t);
  auto parsed_priority = priority_option(priority_name);
  auto priority = uint8_t(parsed_priority);
  auto reader = open_input_file<document_reader>(t.input);
  auto session = open_session(o);
  auto t0 = std::chrono::steady_clock::now();
  // Phase 1: every document becomes a persisted text_processing task (acknowledged = durable).
  struct submitted_batch {
    std::vector<std::string> doc_ids;
    std::vector<uint64_t> task_ids;
  };
  std::deque<std::shared_ptr<submitted_batch>> batches;
  size_t failed = 0, done = 0, bytes = 0, tasks = 0; // failed: lines not read as documents
  size_t tasks_failed = 0;
  {
    request_pipeline<std::vector<uint64_t>> submit(*session, o);
    document_batch b;
    progress_line progress("submit", 0, !o.json);
    while (!submit.error() && next_batch(*reader, 256, 4 << 20, b, failed)) {
      if (b.ids.empty())
        continue;
      for (auto& text : b.texts)
        bytes += text.size();
      auto batch = std::make_shared<submitted_batch>(submitted_batch{std::move(b.ids), {}});
      batches.push_back(batch);
      task_submission s{"text_processing",
                        std::to_string(t.chunk_size) + " " + std::to_string(t.overlap) + " " + std::to_string(t.top),
                        std::move(b.texts), priority, 0, -1};
      submit.send(
        [&, batch](std::vector<uint64_t>& ids) {
          tasks += ids.size();
          batch->task_ids = std::move(ids);
          progress.update(tasks);
        },
        task_atom::value, std::move(s));
      b = document_batch{};
    }
    submit.drain();
    if (submit.error())
      throw cli_exit{exit_code::failure, error_text(submit.error()) + " (" + std::to_string(tasks)
                                           + " tasks submitted before it)"};
  }
  // Phase 2: collect the results in document order.
  request_pipeline<task_outcomes> collect(*session, o);
  progress_line progress("process", tasks, !o.json);
  for (auto& batch : batches)
    collect.send(
      [&, batch](task_outcomes& r) {
        print_outcomes(batch->doc_ids, r, o.json, tasks_failed);
        done += r.ids.size();
        progress.update(done);
      },
      task_wait_atom::value, batch->task_ids);
  collect.drain();
  progress.finish();
  std::cout.flush();
  if (collect.error())
    throw cli_exit{exit_code::failure, error_text(collect.error())};
  double secs = seconds_since(t0);
  failed += tasks_failed;
  std::cerr << "processed " << done - std::min(done, tasks_failed) << " documents (" << format_float(double(bytes) / 1e6)
            << " MB) in " << format_float(secs) << " s: " << format_float(double(done) / secs) << " docs/s, "
            << format_float(double(bytes) / 1e6 / secs) << " MB/s" << (failed ? "; " : "")
            << (failed ? std::to_string(failed) + " failed" : "") << std::endl;
  if (failed)
    throw cli_exit{exit_code::failure, std::to_string(failed) + " documents failed (named above)"};
  return exit_code::ok;
}

int run_embed(int argc, char** argv) {
  client_options o;
  std::string input, out_path, priority_name = "normal";
  uint32_t dim = 512;
  po::options_description desc("embed options");
  add_client_options(desc, o, false);
  desc.add_options()
    ("input", po::value(&input)->required(), "documents: JSON Lines of {\"id\": ..., \"text\": ...}; - reads standard input")
    ("dim", po::value(&dim)->default_value(dim), "dimensions of each embedding (1 to 65536)")
    ("out", po::value(&out_path), "write the vectors here instead of standard output")
    ("priority", po::value(&priority_name)->default_value(priority_name), "task priority: low, normal, high, critical");
  po::variables_map vm;
  if (!parse_args(argc, argv,
                  "p2p-agent embed [--peer H:P] --input DOCS.jsonl [--dim 512] [--out VECS.jsonl]\n"
                  "  Each document becomes one embedding task; the vectors come out as JSON Lines\n"
                  "  {\"id\": ..., \"vector\": [...]}, the input `put --input` reads.",
                  desc, vm))
    return exit_code::ok;
  if (dim == 0 || dim > 65536)
    throw cli_exit{exit_code::usage, "--dim: expected 1 to 65536, got " + std::to_string(dim)};
  auto parsed_priority = priority_option(priority_name);
  auto reader = open_input_file<document_reader>(input);
  std::ofstream file;
  if (!out_path.empty()) {
    file.open(out_path, std::ios::binary | std::ios::trunc);
    if (!file)
      throw cli_exit{exit_code::failure, "cannot write --out " + out_path};
  }
  std::ostream& out = out_path.empty() ? std::cout : file;
  auto session = open_session(o);
  auto t0 = std::chrono::steady_clock::now();
  // Submit and wait per batch, 4 batches in flight; the results come back in document order.
  request_pipeline<task_outcomes> pipeline(*session, o);
  progress_line progress("embed", 0, true);
  size_t failed = 0, done = 0;
  document_batch b;
  std::vector<float> v;
  while (!pipeline.error() && next_batch(*reader, 256, 4 << 20, b, failed)) {
    if (b.ids.empty())
      continue;
    auto ids = std::make_shared<std::vector<std::string>>(std::move(b.ids));
    pipeline.send(
      [&, ids](task_outcomes& r) {
        std::string lines;
        for (size_t i = 0; i < r.ids.size() && i < ids->size(); ++i) {
          auto& id = (*ids)[i];
          if (task_state(r.states[i]) != task_state::completed || !embedding_floats(r.results[i], v)) {
            std::cerr << "p2p-agent: document '" << id << "': task " << r.ids[i] << " "
                      << to_string(task_state(r.states[i])) << ": "
                      << (r.errors[i].empty() ? "no embedding in its result" : r.errors[i]) << "\n";
            ++failed;
            continue;
          }
          lines += "{\"id\": \"" + json_escape(id) + "\", \"vector\": ";
          append_floats_json(lines, v.data(), v.size());
          lines += "}\n";
          ++done;
        }
        out << lines;
        progress.update(done);
      },
      task_submit_wait_atom::value,
      task_submission{"embedding", std::to_string(dim), std::move(b.texts), uint8_t(parsed_priority), 0, -1});
    b = document_batch{};
  }
  pipeline.drain();
  progress.finish();
  out.flush();
  if (!out)
    throw cli_exit{exit_code::failure, "cannot write " + (out_path.empty() ? std::string("standard output") : out_path)};
  if (pipeline.error())
    throw cli_exit{exit_code::failure, error_text(pipeline.error()) + " (" + std::to_string(done)
                                         + " documents embedded before it)"};
  double secs = seconds_since(t0);
  std::cerr << "embedded " << done << " documents (" << dim << "-d) in " << format_float(secs)
            << " s: " << format_float(double(done) / secs) << " docs/s" << (failed ? "; " : "")
            << (failed ? std::to_string(failed) + " failed" : "") << std::endl;
  if (failed)
    throw cli_exit{exit_code::failure, std::to_string(failed) + " documents failed (named above)"};
  return exit_code::ok;
}

int run_ingest(int argc, char** argv) {
  client_options o;
  text_options t;
  po::options_description desc("ingest options");
  add_client_options(desc, o);
  add_text_options(desc, t);
  po::variables_map vm;
  if (!parse_args(argc, argv,
                  "p2p-agent ingest [--peer H:P] --input DOCS.jsonl [--collection C] [--chunk-size N] [--overlap N] "
                  "[--json]",
                  desc, vm))
    return exit_code::ok;
  check_chunking(t);
  auto reader = open_input_file<document_reader>(t.input);
  auto session = open_session(o);
  auto t0 = std::chrono::steady_clock::now();
  request_pipeline<ingest_result> pipeline(*session, o);
  progress_line progress("ingest", 0, !o.json);
  size_t failed = 0, documents = 0, chunks = 0;
  document_batch b{o.collection, {}, {}, t.chunk_size, t.overlap};
  while (!pipeline.error() && next_batch(*reader, 64, 1 << 20, b, failed)) {
    if (b.ids.empty())
      continue;
    pipeline.send(
      [&](ingest_result& r) {
        for (auto& e : r.errors)
          std::cerr << "p2p-agent: document " << e << "\n";
        failed += r.errors.size();
        documents += r.documents;
        chunks += r.chunks;
        progress.update(documents);
      },
      ingest_atom::value, std::move(b));
    b = document_batch{o.collection, {}, {}, t.chunk_size, t.overlap};
  }
  pipeline.drain();
  progress.finish();
  double secs = seconds_since(t0);
  std::string error = pipeline.error() ? error_text(pipeline.error()) : "";
  if (o.json) {
    std::cout << "{\"documents\": " << documents << ", \"chunks\": " << chunks << ", \"failed\": " << failed
              << ", \"collection\": \"" << json_escape(o.collection) << "\", \"seconds\": " << format_float(secs)
              << ", \"rate_per_s\": " << format_float(double(documents) / secs);
    if (!error.empty())
      std::cout << ", \"error\": \"" << json_escape(error) << "\"";
    std::cout << "}" << std::endl;
  } else {
    std::cout << "ingested " << documents << " documents as " << chunks << " chunks into '" << o.collection << "' in "
              << format_float(secs) << " s (" << format_float(double(documents) / secs) << " docs/s)"
              << (failed ? ", " + std::to_string(failed) + " failed" : "") << std::endl;
  }
  build_graphs_before_exit(*session);
  if (!error.empty())
    throw cli_exit{exit_code::failure, error};
  if (failed)
    throw cli_exit{exit_code::failure, std::to_string(failed) + " documents failed (named above)"};
  return exit_code::ok;
}

} // namespace p2p::cli
