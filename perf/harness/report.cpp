// The bench report: the result JSON of DESIGN.md §6 and a readable table that puts each figure
// beside the guide's expectation and the raw baseline of the same run.

#include <algorithm>
#include <cstdio>
#include <stdexcept>
#include <map>
#include <sstream>

#include "perf/harness/bench.hpp"
#include "text/document_reader.hpp"

namespace p2p::bench {

namespace {

std::string num(double v, const char* fmt = "%.1f") {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, v);
  return buf;
}

/// Thousands separated, no decimals under 10 only when the value needs them.
std::string rate(double v) {
  if (v < 10)
    return num(v, "%.2f");
  auto s = num(v, "%.0f");
  for (int i = int(s.size()) - 3; i > 0; i -= 3)
    s.insert(size_t(i), ",");
  return s;
}

std::string guide_text(step_kind k) {
  auto g = guide_for(k);
  if (g.high == 0)
    return "-";
  return rate(g.low) + "-" + rate(g.high);
}

/// One table row, columns padded to their widths.
std::string row(const std::vector<std::string>& cells, const std::vector<size_t>& widths) {
  std::string out = "|";
  for (size_t i = 0; i < cells.size(); ++i) {
    auto pad = widths[i] > cells[i].size() ? widths[i] - cells[i].size() : 0;
    out += " " + (i < 1 ? cells[i] + std::string(pad, ' ') : std::string(pad, ' ') + cells[i]) + " |";
  }
  return out + "\n";
}

std::string render(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths(rows.front().size(), 0);
  for (auto& r : rows)
    for (size_t i = 0; i < r.size(); ++i)
      widths[i] = std::max(widths[i], r[i].size());
  std::string out = row(rows.front(), widths);
  out += "|";
  for (auto w : widths)
    out += std::string(w + 2, '-') + "|";
  out += "\n";
  for (size_t i = 1; i < rows.size(); ++i)
    out += row(rows[i], widths);
  return out;
}

/// "a-b" of the smallest and largest of `xs`, with `fmt` applied to each.
template <class Format>
std::string spread(const std::vector<double>& xs, Format fmt) {
  if (xs.empty())
    return "";
  auto [lo, hi] = std::minmax_element(xs.begin(), xs.end());
  return fmt(*lo) + "-" + fmt(*hi);
}

std::string percent(double ratio) { return num(100 * ratio, "%.0f%%"); }

void json_list(std::ostringstream& out, const char* key, const std::vector<double>& xs, const char* fmt) {
  out << ", \"" << key << "\": [";
  for (size_t i = 0; i < xs.size(); ++i)
    out << (i ? ", " : "") << num(xs[i], fmt);
  out << "]";
}

} // namespace

double median(std::vector<double> xs) {
  if (xs.empty())
    return 0;
  std::sort(xs.begin(), xs.end());
  size_t n = xs.size();
  return n % 2 ? xs[n / 2] : (xs[n / 2 - 1] + xs[n / 2]) / 2;
}

std::vector<step_result> combine_repeats(const std::vector<std::vector<step_result>>& repeats) {
  if (repeats.empty())
    return {};
  std::vector<step_result> out;
  for (size_t i = 0; i < repeats.front().size(); ++i) {
    auto of = [&](auto field) {
      std::vector<double> xs;
      for (auto& rep : repeats)
        xs.push_back(double(field(rep[i])));
      return xs;
    };
    for (auto& rep : repeats)
      if (rep.size() != repeats.front().size() || rep[i].label != repeats.front()[i].label
          || rep[i].nodes != repeats.front()[i].nodes)
        throw std::logic_error("combine_repeats: the repeats ran different steps");
    step_result r = repeats.front()[i];
    r.run_rates = of([](auto& x) { return x.rate_per_s; });
    r.raw_run_rates = of([](auto& x) { return x.raw.rate_per_s; });
    r.run_ratios = of([](auto& x) { return x.raw.rate_per_s > 0 ? x.rate_per_s / x.raw.rate_per_s : 0.0; });
    r.rate_per_s = median(r.run_rates);
    r.vs_raw = median(r.run_ratios);
    r.run_seconds = of([](auto& x) { return x.seconds; });
    r.seconds = median(r.run_seconds);
    r.p50_us = median(of([](auto& x) { return x.p50_us; }));
    r.p99_us = median(of([](auto& x) { return x.p99_us; }));
    r.recall = median(of([](auto& x) { return x.recall; }));
    r.ef = uint32_t(median(of([](auto& x) { return x.ef; })));
    r.index_wait_s = median(of([](auto& x) { return x.index_wait_s; }));
    r.raw.rate_per_s = median(r.raw_run_rates);
    r.raw.p50_us = median(of([](auto& x) { return x.raw.p50_us; }));
    r.raw.p99_us = median(of([](auto& x) { return x.raw.p99_us; }));
    r.raw.recall = median(of([](auto& x) { return x.raw.recall; }));
    r.client_cpu_s = median(of([](auto& x) { return x.client_cpu_s; }));
    r.nodes_cpu_s = median(of([](auto& x) { return x.nodes_cpu_s; }));
    r.peak_rss_mb = median(of([](auto& x) { return x.peak_rss_mb; }));
    r.mean_rss_mb = median(of([](auto& x) { return x.mean_rss_mb; }));
    r.read_bytes = median(of([](auto& x) { return x.read_bytes; }));
    r.write_bytes = median(of([](auto& x) { return x.write_bytes; }));
    for (auto& rep : repeats) {
      r.done = std::min(r.done, rep[i].done);
      r.errors = std::max(r.errors, rep[i].errors);
      if (r.error.empty())
        r.error = rep[i].error;
    }
    out.push_back(std::move(r));
  }
  return out;
}

/// "0.993, ef 24": a search step's recall and the ef it was searched at (0: the node's default).
std::string recall_text(double recall, uint32_t ef) {
  return num(recall, "%.3f") + (ef ? ", ef " + std::to_string(ef) : "");
}

std::string result_json(const scenario& sc, const run_target& where, const std::vector<step_result>& results,
                        uint32_t repeats) {
  auto& node_counts = where.node_counts;
  std::ostringstream out;
  out << "{\"scenario\": \"" << json_escape(sc.name) << "\", \"description\": \"" << json_escape(sc.description)
      << "\", \"nodes\": " << (node_counts.empty() ? 1 : node_counts.back()) << ", \"node_counts\": [";
  for (size_t i = 0; i < node_counts.size(); ++i)
    out << (i ? ", " : "") << node_counts[i];
  out << "], \"topology\": \""
      << (!where.peer.empty() ? "remote" : node_counts.empty() ? "embedded" : sc.topology) << "\"";
  if (!where.peer.empty())
    out << ", \"peer\": \"" << json_escape(where.peer) << "\"";
  if (!node_counts.empty() && where.peer.empty())
    out << ", \"replicas\": " << (sc.replicas ? sc.replicas : 2);
  out << ", \"seed\": " << sc.seed << ", \"repeats\": " << repeats
      << ", \"results\": [";
  for (size_t i = 0; i < results.size(); ++i) {
    auto& r = results[i];
    auto g = guide_for(*parse_step_kind(r.step));
    out << (i ? ",\n  " : "\n  ") << "{\"step\": \"" << r.step << "\", \"label\": \"" << r.label << "\", \"nodes\": " << r.nodes << ", \"count\": " << r.count
        << ", \"done\": " << r.done << ", \"errors\": " << r.errors << ", \"seconds\": " << num(r.seconds, "%.6f")
        << ", \"rate_per_s\": " << num(r.rate_per_s, "%.3f") << ", \"p50_us\": " << num(r.p50_us, "%.1f")
        << ", \"p99_us\": " << num(r.p99_us, "%.1f") << ", \"batch\": " << r.batch << ", \"window\": " << r.window;
    if (r.recall >= 0)
      out << ", \"k\": " << r.k << ", \"recall_at_k\": " << num(r.recall, "%.4f") << ", \"ef\": " << r.ef
          << ", \"index_wait_s\": "
          << num(r.index_wait_s, "%.3f");
    out << ", \"guide\": {\"low\": " << g.low << ", \"high\": " << g.high << ", \"unit\": \"" << g.unit << "\"}";
    out << ", \"baseline\": {\"name\": \"" << json_escape(r.raw.name) << "\", \"rate_per_s\": "
        << num(r.raw.rate_per_s, "%.3f") << ", \"p50_us\": " << num(r.raw.p50_us, "%.1f") << ", \"p99_us\": "
        << num(r.raw.p99_us, "%.1f");
    if (r.raw.recall >= 0)
      out << ", \"recall_at_k\": " << num(r.raw.recall, "%.4f") << ", \"ef\": " << r.raw.ef;
    out << "}, \"vs_baseline\": " << num(r.vs_raw, "%.4f");
    if (!is_node_step(*parse_step_kind(r.step))) {
      auto known = [](double x, const char* fmt) { return x >= 0 ? num(x, fmt) : std::string("null"); };
      auto per_item = [&](double x) { return x >= 0 && r.done ? num(x / double(r.done), "%.1f") : std::string("null"); };
      out << ", \"resources\": {\"cpu_us_per_item\": " << known(cpu_us_per_item(r), "%.2f")
          << ", \"cores\": " << num(cores_used(r), "%.3f") << ", \"client_cpu_s\": " << num(r.client_cpu_s, "%.4f")
          << ", \"nodes_cpu_s\": " << known(r.nodes_cpu_s, "%.4f") << ", \"peak_rss_mb\": " << known(r.peak_rss_mb, "%.1f")
          << ", \"mean_rss_mb\": " << known(r.mean_rss_mb, "%.1f") << ", \"write_bytes_per_item\": " << per_item(r.write_bytes)
          << ", \"read_bytes_per_item\": " << per_item(r.read_bytes) << "}";
    }
    json_list(out, "runs_rate_per_s", r.run_rates, "%.3f");
    json_list(out, "runs_baseline_rate_per_s", r.raw_run_rates, "%.3f");
    json_list(out, "runs_vs_baseline", r.run_ratios, "%.4f");
    if (!r.error.empty())
      out << ", \"error\": \"" << json_escape(r.error) << "\"";
    out << "}";
  }
  out << "\n]}\n";
  return out.str();
}

std::string result_table(const scenario& sc, const run_target& where, const std::vector<step_result>& results,
                         uint32_t repeats) {
  auto& node_counts = where.node_counts;
  std::ostringstream out;
  out << "scenario " << sc.name << ": ";
  if (!where.peer.empty()) {
    uint32_t members = node_counts.empty() ? 1 : node_counts.back();
    out << "remote node " << where.peer << " (" << members << " member" << (members == 1 ? "" : "s") << ")\n";
  } else if (node_counts.empty()) {
    out << "embedded node\n";
  } else {
    for (size_t i = 0; i < node_counts.size(); ++i)
      out << (i ? ", " : "") << node_counts[i];
    out << " node" << (node_counts.size() == 1 && node_counts[0] == 1 ? "" : "s") << " (" << sc.topology
        << ", 127.0.0.1, " << (sc.replicas ? sc.replicas : 2) << (sc.replicas == 1 ? " copy" : " copies") << " of each vector)\n";
  }
  if (repeats > 1)
    out << "medians of " << repeats << " repeats (min-max in brackets); vs raw: the median of each repeat's own ratio\n";
  // The baselines' names go under the table, once per step label: a column of them made the
  // table too wide for a terminal.
  std::vector<std::vector<std::string>> rows{
    {"step", "nodes", "count", "rate/s", "p50 us", "p99 us", "recall@k", "guide/s", "raw/s", "vs raw"}};
  std::vector<std::pair<std::string, std::string>> baselines; // label, baseline name
  for (auto& r : results) {
    if (is_node_step(*parse_step_kind(r.step))) { // a node stopped or started: how long until noticed
      auto secs = [](double s) { return num(s, "%.2f") + " s"; };
      rows.push_back({r.label, std::to_string(r.nodes), std::to_string(r.done),
                      secs(r.seconds) + (repeats > 1 ? " (" + spread(r.run_seconds, secs) + ")" : ""), "-", "-", "-", "-", "-", "-"});
      continue;
    }
    rows.push_back({r.label, std::to_string(r.nodes), std::to_string(r.done) + (r.errors ? " (" + std::to_string(r.errors) + " failed)" : ""),
                    rate(r.rate_per_s) + (repeats > 1 ? " (" + spread(r.run_rates, rate) + ")" : ""),
                    rate(r.p50_us), rate(r.p99_us),
                    r.recall >= 0 ? recall_text(r.recall, r.ef)
                                      + (r.raw.recall >= 0 ? " (raw " + recall_text(r.raw.recall, r.raw.ef) + ")" : "")
                                  : "-",
                    guide_text(*parse_step_kind(r.step)), rate(r.raw.rate_per_s),
                    r.raw.rate_per_s > 0 ? percent(r.vs_raw) + (repeats > 1 ? " (" + spread(r.run_ratios, percent) + ")" : "")
                                         : "-"});
    if (std::none_of(baselines.begin(), baselines.end(), [&](auto& b) { return b.first == r.label; }))
      baselines.emplace_back(r.label, r.raw.name);
  }
  out << render(rows);
  out << "guide/s: the range the performance guide expects. raw/s: the library alone in the same run, "
         "given what one node gets:\n";
  size_t width = 0;
  for (auto& [label, _] : baselines)
    width = std::max(width, label.size());
  for (auto& [label, name] : baselines)
    out << "  " << label << std::string(width - label.size(), ' ') << "  " << name << "\n";
  // What each step cost, from /proc: CPU of the client and the nodes per item and the cores they
  // kept busy, the nodes' memory, their storage I/O per item.
  std::vector<std::vector<std::string>> cost{
    {"step", "nodes", "cpu us/item", "cores busy", "node rss MB peak (mean)", "disk write B/item", "disk read B/item"}};
  for (auto& r : results) {
    if (is_node_step(*parse_step_kind(r.step)))
      continue;
    auto per_item = [&](double x) { return x >= 0 && r.done ? rate(x / double(r.done)) : std::string("-"); };
    cost.push_back({r.label, std::to_string(r.nodes), cpu_us_per_item(r) >= 0 ? num(cpu_us_per_item(r), "%.1f") : "-",
                    num(cores_used(r), "%.2f"),
                    r.peak_rss_mb >= 0 ? num(r.peak_rss_mb, "%.0f") + " (" + num(r.mean_rss_mb, "%.0f") + ")" : "-",
                    per_item(r.write_bytes), per_item(r.read_bytes)});
  }
  out << "\ncost of each step (client and nodes, from /proc; '-' where the nodes' processes are out of sight, as with --peer):\n"
      << render(cost);
  if (node_counts.size() > 1) {
    out << "\nthroughput per node count (rate/s; ratio to the first count):\n";
    std::vector<std::string> head{"step"};
    for (auto n : node_counts)
      head.push_back(std::to_string(n) + " node" + (n == 1 ? "" : "s"));
    head.push_back("ratio");
    std::vector<std::vector<std::string>> table{head};
    std::map<std::string, std::map<uint32_t, double>> by_step;
    std::vector<std::string> order;
    for (auto& r : results) {
      if (is_node_step(*parse_step_kind(r.step)))
        continue;
      if (!by_step.count(r.label))
        order.push_back(r.label);
      by_step[r.label][r.nodes] = r.rate_per_s;
    }
    for (auto& step : order) {
      std::vector<std::string> line{step};
      auto& m = by_step[step];
      for (auto n : node_counts)
        line.push_back(m.count(n) ? rate(m[n]) : "-");
      double first = m[node_counts.front()], last = m[node_counts.back()];
      line.push_back(first > 0 ? num(last / first, "%.2f") : "-");
      table.push_back(line);
    }
    out << render(table);
  }
  for (auto& r : results)
    if (!r.error.empty())
      out << "\n" << r.label << " (" << r.nodes << " nodes): " << r.error;
  return out.str();
}

} // namespace p2p::bench
