#include "perf/harness/scenario.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "config/json_fields.hpp"
#include "config/json_position.hpp"

namespace p2p {

namespace {

using namespace json_fields;

constexpr std::string_view step_names[] = {"text_processing", "embedding", "vector_store", "vector_search",
                                           "messaging",       "ingest",    "kill_node",    "restart_node"};

std::string all_step_names() {
  std::string out;
  for (auto n : step_names)
    out += (out.empty() ? "" : ", ") + std::string(n);
  return out;
}

std::string resolve(const std::string& base_dir, const std::string& key, const std::string& file) {
  std::filesystem::path p(file);
  if (p.is_relative() && !base_dir.empty())
    p = std::filesystem::path(base_dir) / p;
  std::error_code ec;
  if (!std::filesystem::is_regular_file(p, ec))
    throw error_found{key + ": no such file '" + p.string() + "'"};
  return p.string();
}

/// Defaults of a step kind (size, batch, window, collection) for fields left unset.
void apply_step_defaults(scenario_step& s) {
  auto def = [](uint32_t& field, uint32_t value) {
    if (field == 0)
      field = value;
  };
  if (s.collection.empty())
    s.collection = s.kind == step_kind::ingest ? "bench-docs" : "bench";
  switch (s.kind) {
    case step_kind::text_processing: def(s.size, 200); def(s.batch, 64); def(s.window, 4); break;
    case step_kind::embedding: def(s.size, 128); def(s.batch, 256); def(s.window, 4); break;
    case step_kind::vector_store: def(s.size, 512); def(s.batch, 1000); def(s.window, 4); break;
    case step_kind::vector_search: def(s.batch, 32); def(s.window, 4); break;
    case step_kind::messaging: def(s.size, 64); def(s.batch, 1); def(s.window, s.one_way ? 64 : 1); break;
    case step_kind::ingest: def(s.size, 200); def(s.batch, 64); def(s.window, 4); break;
    case step_kind::kill_node:
    case step_kind::restart_node: def(s.batch, 1); def(s.window, 1); break;
  }
}

scenario_step read_step(const std::string& path, element v, const std::string& base_dir) {
  scenario_step s;
  bool has_type = false, has_count = false;
  read_object(path, v, {
    {"type", [&](auto& k, element x) {
       auto name = read_string(k, x);
       auto kind = parse_step_kind(name);
       if (!kind)
         throw error_found{k + ": unknown step '" + name + "' (expected one of: " + all_step_names() + ")"};
       s.kind = *kind;
       has_type = true;
     }},
    {"count", [&](auto& k, element x) { read_uint(k, x, s.count, 1, 100000000); has_count = true; }},
    {"node", [&](auto& k, element x) { read_uint(k, x, s.node, 2, 64); }},
    {"size", [&](auto& k, element x) { read_uint(k, x, s.size, 1, 16 << 20); }},
    {"input", [&](auto& k, element x) { s.input = resolve(base_dir, k, read_string(k, x)); }},
    {"collection", [&](auto& k, element x) { s.collection = read_string(k, x); }},
    {"k", [&](auto& k, element x) { read_uint(k, x, s.k, 1, 10000); }},
    {"ef", [&](auto& k, element x) { read_uint(k, x, s.ef, 1, 100000); }},
    {"recall", [&](auto& k, element x) {
       double r = 0;
       if (x.get(r) || !(r > 0 && r <= 1))
         throw error_found{k + ": expected a number above 0 and at most 1 (the recall@k to choose ef by)"};
       s.recall = r;
     }},
    {"batch", [&](auto& k, element x) { read_uint(k, x, s.batch, 1, 100000); }},
    {"window", [&](auto& k, element x) { read_uint(k, x, s.window, 1, 1024); }},
    {"one_way", [&](auto& k, element x) {
       if (x.type() != element_type::BOOL)
         fail(k, "a boolean", x);
       s.one_way = bool(x);
     }},
    {"from", [&](auto& k, element x) {
       auto from = read_string(k, x);
       if (from != "client" && from != "node")
         throw error_found{k + ": expected \"client\" (bench sends each message) or \"node\" (node-1 sends them "
                               "and times them), got '" + from + "'"};
       s.from_node = from == "node";
     }},
    {"to", [&](auto& k, element x) {
       auto to = read_string(k, x);
       auto slash = to.find('/');
       if (slash == std::string::npos || slash == 0 || slash + 1 == to.size())
         throw error_found{k + ": expected PEER_ID/AGENT, got '" + to + "'"};
       s.to = to;
     }},
  });
  if (!has_type)
    throw error_found{path + ".type: required (one of: " + all_step_names() + ")"};
  if (is_node_step(s.kind)) {
    if (s.node == 0)
      throw error_found{path + ".node: required (the node to " + (s.kind == step_kind::kill_node ? "kill" : "restart")
                        + ", 2 or more)"};
    if (has_count)
      throw error_found{path + ".count: a " + std::string(to_string(s.kind)) + " step takes no count"};
    s.count = 1;
    has_count = true;
  } else if (s.node != 0) {
    throw error_found{path + ".node: only kill_node and restart_node steps name a node"};
  }
  if (!has_count)
    throw error_found{path + ".count: required"};
  if (s.from_node && s.kind != step_kind::messaging)
    throw error_found{path + ".from: only messaging steps say where their messages start"};
  if (s.kind == step_kind::messaging && s.batch > 1)
    throw error_found{path + ".batch: a message is one request; expected 1, got " + std::to_string(s.batch)};
  apply_step_defaults(s);
  return s;
}

void read_nodes(const std::string& k, element x, std::vector<uint32_t>& out) {
  out.clear();
  if (x.type() == element_type::ARRAY) {
    size_t i = 0;
    for (element item : simdjson::dom::array(x)) {
      uint32_t n = 0;
      read_uint(k + "[" + std::to_string(i++) + "]", item, n, 1, 64);
      out.push_back(n);
    }
    if (out.empty())
      throw error_found{k + ": expected at least one node count"};
  } else {
    uint32_t n = 0;
    read_uint(k, x, n, 1, 64);
    out.push_back(n);
  }
}

} // namespace

std::string_view to_string(step_kind k) { return step_names[size_t(k)]; }

std::optional<step_kind> parse_step_kind(std::string_view s) {
  for (size_t i = 0; i < std::size(step_names); ++i)
    if (step_names[i] == s)
      return step_kind(i);
  return std::nullopt;
}


std::string parse_scenario(std::string_view json, const std::string& base_dir, scenario& out) {
  simdjson::dom::parser parser;
  simdjson::padded_string padded(json);
  element root;
  if (auto err = parser.parse(padded).get(root))
    return "scenario: not valid JSON" + json_error_place(json) + ": " + simdjson::error_message(err);
  scenario sc;
  bool has_steps = false;
  try {
    read_object("", root, {
      {"name", [&](auto& k, element x) { sc.name = read_string(k, x); }},
      {"description", [&](auto& k, element x) { sc.description = read_string(k, x, true); }},
      {"seed", [&](auto& k, element x) { read_uint(k, x, sc.seed, 0, INT64_MAX); }},
      {"topology", [&](auto& p, element v) {
         read_object(p, v, {
           {"nodes", [&](auto& k, element x) { read_nodes(k, x, sc.nodes); }},
           {"replicas", [&](auto& k, element x) { read_uint(k, x, sc.replicas, 1, 16); }},
           {"shape", [&](auto& k, element x) {
              sc.topology = read_string(k, x);
              if (sc.topology != "star" && sc.topology != "chain" && sc.topology != "mesh")
                throw error_found{k + ": expected \"star\", \"chain\" or \"mesh\", got \"" + sc.topology + "\""};
            }},
         });
       }},
      {"steps", [&](auto& k, element x) {
         if (x.type() != element_type::ARRAY)
           fail(k, "an array of step objects", x);
         size_t i = 0;
         for (element item : simdjson::dom::array(x))
           sc.steps.push_back(read_step(k + "[" + std::to_string(i++) + "]", item, base_dir));
         has_steps = true;
       }},
    });
    if (!has_steps || sc.steps.empty())
      throw error_found{"steps: expected at least one step"};
    size_t stored = 0;
    for (size_t i = 0; i < sc.steps.size(); ++i) {
      auto& s = sc.steps[i];
      if (is_node_step(s.kind)) {
        uint32_t fewest = sc.nodes.empty() ? 0 : *std::min_element(sc.nodes.begin(), sc.nodes.end());
        if (s.node > fewest)
          throw error_found{"steps[" + std::to_string(i) + "].node: node-" + std::to_string(s.node) + " is not in "
                            + (fewest ? "a cluster of " + std::to_string(fewest) + " nodes" : "an embedded run (no topology.nodes)")};
      }
      if (s.kind == step_kind::vector_store)
        ++stored;
      if (s.kind == step_kind::vector_search && stored == 0)
        throw error_found{"steps[" + std::to_string(i) + "]: a vector_search needs a vector_store step before it"};
    }
  } catch (const error_found& e) {
    return "scenario: " + e.message;
  }
  out = std::move(sc);
  return {};
}

std::string load_scenario_file(const std::string& path, scenario& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return "scenario: cannot read '" + path + "'";
  std::stringstream ss;
  ss << in.rdbuf();
  auto base = std::filesystem::path(path).parent_path().string();
  auto err = parse_scenario(ss.str(), base, out);
  if (!err.empty())
    return err + " (in " + path + ")";
  if (out.name.empty())
    out.name = std::filesystem::path(path).stem().string();
  return {};
}

} // namespace p2p
