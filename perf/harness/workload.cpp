// The data of bench steps: generated deterministically from the scenario's seed, or read from
// the step's input file; exact search answers for recall.

#include <cmath>
#include <stdexcept>

#include "perf/harness/bench.hpp"
#include "perf/harness/datasets.hpp"
#include "text/document_reader.hpp"
#include "vectors/distance.hpp"
#include "core/hashing.hpp"
#include "vectors/vector_io.hpp"

namespace p2p::bench {

namespace {

/// Pseudo-English: a vocabulary of syllable words drawn with Zipf-like frequencies, sentences
/// of 8 to 20 words. Deterministic in the seed.
class text_maker {
public:
  explicit text_maker(uint64_t seed) : state_(seed ^ 0x9e3779b97f4a7c15ULL) {
    static const char* syllables[] = {"ka", "lo", "mi", "ne", "ru", "sa", "te", "vi", "do", "pa",
                                      "ren", "tor", "lis", "man", "gor", "bel", "sin", "dra", "qu", "est"};
    for (size_t i = 0; i < vocabulary; ++i) {
      std::string w;
      for (size_t x = mix64(i + 1), n = 1 + x % 3; n > 0; --n, x /= 20)
        w += syllables[(x >> 8) % 20];
      words_.push_back(w + (i % 7 == 0 ? "s" : ""));
    }
    double total = 0;
    for (size_t r = 0; r < vocabulary; ++r)
      cumulative_.push_back(total += 1.0 / double(r + 1));
  }

  std::string text(uint32_t words) {
    std::string out;
    for (uint32_t i = 0, sentence = 0; i < words; ++i) {
      auto& w = words_[pick()];
      if (sentence == 0) {
        out += char(std::toupper(w[0]));
        out += w.substr(1);
        sentence = 8 + uint32_t(next() % 13);
      } else {
        out += w;
      }
      out += (--sentence == 0 || i + 1 == words) ? ". " : " ";
    }
    if (!out.empty())
      out.pop_back();
    return out;
  }

private:
  static constexpr size_t vocabulary = 5000;
  uint64_t next() { return state_ = mix64(state_ + 1); }
  size_t pick() {
    double u = double(next() >> 11) / double(1ULL << 53) * cumulative_.back();
    return size_t(std::lower_bound(cumulative_.begin(), cumulative_.end(), u) - cumulative_.begin());
  }
  uint64_t state_;
  std::vector<std::string> words_;
  std::vector<double> cumulative_;
};

/// Documents of the step's input, repeated (ids suffixed ~2, ~3, ...) when the file has fewer.
void read_documents(const scenario_step& s, workload& w) {
  std::string error;
  auto reader = document_reader::open(s.input, error);
  if (!reader)
    throw std::runtime_error(error);
  std::vector<document> docs;
  std::vector<std::string> errors;
  while (docs.size() < s.count && reader->next(s.count - docs.size(), 64u << 20, docs, errors)) {
  }
  if (!errors.empty())
    throw std::runtime_error(errors.front());
  if (docs.empty())
    throw std::runtime_error(s.input + ": no documents");
  for (size_t i = 0; i < s.count; ++i) {
    auto& d = docs[i % docs.size()];
    w.ids.push_back(i < docs.size() ? d.id : d.id + "~" + std::to_string(i / docs.size() + 1));
    w.texts.push_back(d.text);
  }
}

/// The first `count` vectors of the step's input (all of them when it has fewer).
void read_vectors(const scenario_step& s, workload& w) {
  std::string error;
  auto reader = vector_reader::open(s.input, error);
  if (!reader)
    throw std::runtime_error(error);
  vector_rows rows;
  while (rows.size() < s.count && reader->next(s.count - rows.size(), rows)) {
  }
  if (!reader->error().empty())
    throw std::runtime_error(reader->error());
  if (rows.size() == 0)
    throw std::runtime_error(s.input + ": no vectors");
  w.dim = rows.dim;
  w.rows = rows.size();
  w.ids = std::move(rows.ids);
  w.vectors = std::move(rows.values);
}

} // namespace

std::vector<workload> make_workloads(const scenario& sc, metric_kind metric) {
  std::vector<workload> out(sc.steps.size());
  text_maker maker(sc.seed);
  size_t last_store = 0;
  for (size_t i = 0; i < sc.steps.size(); ++i) {
    auto& s = sc.steps[i];
    auto& w = out[i];
    switch (s.kind) {
      case step_kind::text_processing:
      case step_kind::embedding:
      case step_kind::ingest:
        if (!s.input.empty()) {
          read_documents(s, w);
          break;
        }
        for (uint64_t d = 0; d < s.count; ++d) {
          w.ids.push_back("doc-" + std::to_string(d));
          w.texts.push_back(maker.text(s.size));
        }
        break;
      case step_kind::messaging:
        w.texts.push_back(std::string(s.size, 'm'));
        break;
      case step_kind::kill_node:
      case step_kind::restart_node:
        break;
      case step_kind::vector_store:
        last_store = i;
        if (!s.input.empty()) {
          read_vectors(s, w);
          break;
        }
        w.dim = s.size;
        w.rows = s.count;
        w.vectors = datasets::embedding_like_vectors(s.count, s.size, sc.seed + i, sc.seed);
        for (size_t r = 0; r < w.rows; ++r)
          w.ids.push_back(std::to_string(r));
        break;
      case step_kind::vector_search: {
        auto& base = out[last_store];
        w.base_step = last_store;
        w.dim = base.dim;
        if (!s.input.empty()) {
          workload q;
          read_vectors(s, q);
          if (q.dim != base.dim)
            throw std::runtime_error(s.input + ": queries of " + std::to_string(q.dim) + " dimensions, the stored vectors have "
                                     + std::to_string(base.dim));
          w.vectors = std::move(q.vectors);
          w.rows = q.rows;
        } else {
          w.rows = s.count;
          w.vectors = datasets::embedding_like_vectors(s.count, base.dim, sc.seed + 1000 + i, sc.seed);
        }
        w.kth = datasets::kth_best_similarity(metric, base.vectors, w.vectors, w.dim, std::min<size_t>(s.k, base.rows));
        break;
      }
    }
  }
  return out;
}

double percentile(std::vector<double> xs, double p) {
  if (xs.empty())
    return 0;
  std::sort(xs.begin(), xs.end());
  return xs[std::min(xs.size() - 1, size_t(p * double(xs.size())))];
}

guide_range guide_for(step_kind k) {
  switch (k) {
    case step_kind::text_processing: return {50, 100, "docs/s"};
    case step_kind::embedding: return {20, 50, "embeddings/s"};
    case step_kind::vector_store: return {1000, 5000, "vectors/s"};
    case step_kind::vector_search: return {100, 1000, "queries/s"};
    case step_kind::messaging: return {1000, 10000, "msgs/s"};
    case step_kind::ingest: return {0, 0, "docs/s"};
    case step_kind::kill_node:
    case step_kind::restart_node: return {0, 0, "s"};
  }
  return {};
}

} // namespace p2p::bench
