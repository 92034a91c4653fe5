// The bench report over repeats: medians, each repeat's own ratio, and the worst of done/errors.

#include <doctest/doctest.h>

#include <simdjson.h>

#include "perf/harness/bench.hpp"

using namespace p2p;
using namespace p2p::bench;

namespace {

step_result result(const char* label, double rate, double raw_rate, uint64_t done = 100, uint64_t errors = 0) {
  step_result r;
  r.step = "vector_store";
  r.label = label;
  r.count = 100;
  r.done = done;
  r.errors = errors;
  r.rate_per_s = rate;
  r.p50_us = rate / 10;
  r.raw.name = "RocksDB WriteBatch, 2 threads";
  r.raw.rate_per_s = raw_rate;
  return r;
}

} // namespace

TEST_CASE("median of an odd and an even count, and of nothing") {
  CHECK(median({3, 1, 2}) == 2);
  CHECK(median({4, 1, 3, 2}) == doctest::Approx(2.5));
  CHECK(median({}) == 0);
}

TEST_CASE("repeats combine into medians, the ratio being the median of each repeat's own ratio") {
  // Repeat 2 ran on a loaded machine: both sides slow; its own ratio is what it says.
  std::vector<std::vector<step_result>> reps{{result("vector_store", 50, 100)},
                                             {result("vector_store", 10, 40)},
                                             {result("vector_store", 60, 100)}};
  auto out = combine_repeats(reps);
  REQUIRE(out.size() == 1);
  CHECK(out[0].rate_per_s == 50);
  CHECK(out[0].raw.rate_per_s == 100);
  CHECK(out[0].p50_us == 5);
  CHECK(out[0].vs_raw == doctest::Approx(0.5)); // ratios 0.5, 0.25, 0.6; not 50 / 100 by chance
  CHECK(out[0].run_rates == std::vector<double>{50, 10, 60});
  CHECK(out[0].run_ratios[1] == doctest::Approx(0.25));
}

TEST_CASE("a repeat that lost items or failed shows in the combined result") {
  std::vector<std::vector<step_result>> reps{{result("vector_store", 50, 100)},
                                             {result("vector_store", 50, 100, 99, 1)}};
  reps[1][0].error = "timeout";
  auto out = combine_repeats(reps);
  CHECK(out[0].done == 99);
  CHECK(out[0].errors == 1);
  CHECK(out[0].error == "timeout");
}

TEST_CASE("repeats that ran different steps are refused") {
  std::vector<std::vector<step_result>> reps{{result("vector_store", 50, 100)}, {result("ingest", 50, 100)}};
  CHECK_THROWS_AS(combine_repeats(reps), std::logic_error);
}

TEST_CASE("the result JSON holds the repeat count and every repeat's rate, baseline and ratio") {
  scenario sc;
  sc.name = "s";
  std::vector<std::vector<step_result>> reps{{result("vector_store", 50, 100)}, {result("vector_store", 30, 100)}};
  auto json = result_json(sc, {}, combine_repeats(reps), 2);
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  REQUIRE(parser.parse(json).get(doc) == simdjson::SUCCESS);
  CHECK(int64_t(doc["repeats"]) == 2);
  simdjson::dom::element r = doc["results"].at(0);
  CHECK(double(r["rate_per_s"]) == doctest::Approx(40));
  CHECK(double(r["vs_baseline"]) == doctest::Approx(0.4));
  simdjson::dom::array runs = r["runs_rate_per_s"];
  REQUIRE(runs.size() == 2);
  CHECK(double(runs.at(1)) == doctest::Approx(30));
  CHECK(r["runs_vs_baseline"].get_array().size() == 2);
  auto table = result_table(sc, {}, combine_repeats(reps), 2);
  CHECK(table.find("medians of 2 repeats") != std::string::npos);
  CHECK(table.find("40 (30-50)") != std::string::npos);
  CHECK(table.find("\n  vector_store  RocksDB WriteBatch, 2 threads\n") != std::string::npos); // named once, below
  for (size_t at = 0, end; (end = table.find('\n', at)) != std::string::npos; at = end + 1)
    CHECK(end - at <= 140); // fits a wide terminal
}

TEST_CASE("each step's cost: CPU per item and cores busy from client and nodes, memory, disk bytes per item") {
  scenario sc;
  sc.name = "s";
  auto r = result("vector_store", 50, 100, 100);
  r.seconds = 2;
  r.client_cpu_s = 0.5;
  r.nodes_cpu_s = 1.5;
  r.peak_rss_mb = 80;
  r.mean_rss_mb = 60;
  r.write_bytes = 409600;
  r.read_bytes = 0;
  CHECK(cpu_us_per_item(r) == doctest::Approx(20000)); // 2 s of CPU over 100 items
  CHECK(cores_used(r) == doctest::Approx(1));
  auto remote = result("vector_store", 50, 100, 100); // --peer: the nodes cannot be seen
  remote.seconds = 1;
  remote.client_cpu_s = 0.25;
  CHECK(cpu_us_per_item(remote) == doctest::Approx(2500));
  auto json = result_json(sc, {}, combine_repeats({{r}, {r}}), 2);
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  REQUIRE(parser.parse(json).get(doc) == simdjson::SUCCESS);
  simdjson::dom::element res = doc["results"].at(0)["resources"];
  CHECK(double(res["cpu_us_per_item"]) == doctest::Approx(20000));
  CHECK(double(res["cores"]) == doctest::Approx(1));
  CHECK(double(res["peak_rss_mb"]) == doctest::Approx(80));
  CHECK(double(res["write_bytes_per_item"]) == doctest::Approx(4096));
  auto remote_json = result_json(sc, {}, combine_repeats({{remote}}), 1);
  REQUIRE(parser.parse(remote_json).get(doc) == simdjson::SUCCESS);
  CHECK(doc["results"].at(0)["resources"]["nodes_cpu_s"].is_null());
  auto table = result_table(sc, {}, combine_repeats({{r}}), 1);
  CHECK(table.find("cost of each step") != std::string::npos);
  CHECK(table.find("80 (60)") != std::string::npos);
}
