#include "config/node_config.hpp"

#include <algorithm>

#include <charconv>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>

#include <simdjson.h>

#include "config/json_fields.hpp"
#include "config/json_position.hpp"

namespace p2p {

namespace {

using namespace json_fields;
using simdjson::dom::element;
using simdjson::dom::element_type;

void read_agents(const std::string& path, element v, std::vector<agent_config>& out) {
  if (v.type() != element_type::ARRAY)
    fail(path, "an array of agent objects", v);
  out.clear();
  size_t i = 0;
  for (element item : simdjson::dom::array(v)) {
    auto p = path + "[" + std::to_string(i++) + "]";
    agent_config a;
    read_object(p, item, {
      {"name", [&](auto& k, element x) { a.name = read_string(k, x); }},
      {"capabilities", [&](auto& k, element x) { a.capabilities = read_string_array(k, x); }},
    });
    if (a.name.empty())
      throw error_found{p + ".name: required"};
    out.push_back(std::move(a));
  }
}

void read_root(element root, node_config& c) {
  constexpr int64_t max_u32 = UINT32_MAX;
  read_object("", root, {
    {"node", [&](auto& p, element v) {
       read_object(p, v, {
         {"id", [&](auto& k, element x) { c.id = read_string(k, x); }},
         {"host", [&](auto& k, element x) { c.host = read_string(k, x); }},
         {"port", [&](auto& k, element x) { read_uint(k, x, c.port, 0, 65535); }},
         {"data_dir", [&](auto& k, element x) { c.data_dir = read_string(k, x); }},
       });
     }},
    {"cluster", [&](auto& p, element v) {
       read_object(p, v, {
         {"name", [&](auto& k, element x) { c.cluster_name = read_string(k, x); }},
         {"bootstrap", [&](auto& k, element x) {
            c.bootstrap = read_string_array(k, x);
            for (size_t i = 0; i < c.bootstrap.size(); ++i) {
              std::string h;
              uint16_t port;
              if (!parse_address(c.bootstrap[i], h, port))
                throw error_found{k + "[" + std::to_string(i) + "]: expected HOST:PORT, got '"
                                  + c.bootstrap[i] + "'"};
            }
          }},
         {"gossip_interval_ms", [&](auto& k, element x) { read_uint(k, x, c.gossip_interval_ms, 1, 3600000); }},
         {"heartbeat_ms", [&](auto& k, element x) { read_uint(k, x, c.heartbeat_ms, 1, 3600000); }},
         {"failure_timeout_ms", [&](auto& k, element x) { read_uint(k, x, c.failure_timeout_ms, 1, 3600000); }},
         {"replication_factor", [&](auto& k, element x) { read_uint(k, x, c.replication_factor, 1, 16); }},
       });
     }},
    {"runtime", [&](auto& p, element v) {
       read_object(p, v, {
         {"scheduler_threads", [&](auto& k, element x) { read_uint(k, x, c.scheduler_threads, 1, 256); }},
         {"scheduler_policy", [&](auto& k, element x) {
            c.scheduler_policy = read_string(k, x);
            if (c.scheduler_policy != "sharing" && c.scheduler_policy != "stealing")
              throw error_found{k + ": expected \"sharing\" or \"stealing\", got \""
                                + c.scheduler_policy + "\""};
          }},
         {"workers", [&](auto& k, element x) { read_uint(k, x, c.workers, 1, 1024); }},
       });
     }},
    {"agents", [&](auto& p, element v) { read_agents(p, v, c.agents); }},
    {"vectors", [&](auto& p, element v) {
       read_object(p, v, {
         {"dim", [&](auto& k, element x) { read_uint(k, x, c.dim, 1, 65536); }},
         {"metric", [&](auto& k, element x) {
            auto s = read_string(k, x);
            auto m = parse_metric(s);
            if (!m)
              throw error_found{k + ": expected \"cosine\", \"ip\" or \"l2\", got \"" + s + "\""};
            c.metric = *m;
          }},
         {"shards", [&](auto& k, element x) { read_uint(k, x, c.shards, 1, 256); }},
         {"index_threads", [&](auto& k, element x) { read_uint(k, x, c.index_threads, 0, 256); }},
         {"max_inflight_mb", [&](auto& k, element x) { read_uint(k, x, c.max_inflight_mb, 1, 65536); }},
         {"hnsw", [&](auto& k, element x) {
            read_object(k, x, {
              {"m", [&](auto& kk, element y) { read_uint(kk, y, c.hnsw.m, 2, 100); }},
              {"ef_construction", [&](auto& kk, element y) { read_uint(kk, y, c.hnsw.ef_construction, 1, 100000); }},
              {"ef_search", [&](auto& kk, element y) { read_uint(kk, y, c.hnsw.ef_search, 1, 100000); }},
            });
          }},
       });
     }},
    {"tasks", [&](auto& p, element v) {
       read_object(p, v, {
         {"default_timeout_ms", [&](auto& k, element x) { read_uint(k, x, c.default_timeout_ms, 1, max_u32); }},
         {"max_retries", [&](auto& k, element x) { read_uint(k, x, c.max_retries, 0, 1000); }},
         {"queue_limit", [&](auto& k, element x) { read_uint(k, x, c.queue_limit, 1, 100000000); }},
       });
     }},
    {"storage", [&](auto& p, element v) {
       read_object(p, v, {
         {"durability", [&](auto& k, element x) {
            auto s = read_string(k, x);
            if (s == "wal")
              c.durability = durability_mode::wal;
            else if (s == "fsync")
              c.durability = durability_mode::fsync;
            else
              throw error_found{k + ": expected \"wal\" or \"fsync\", got \"" + s + "\""};
          }},
       });
     }},
    {"metrics", [&](auto& p, element v) {
       read_object(p, v, {
         {"port", [&](auto& k, element x) { read_uint(k, x, c.metrics_port, 0, 65535); }},
       });
     }},
    {"http", [&](auto& p, element v) {
       read_object(p, v, {
         {"port", [&](auto& k, element x) { read_uint(k, x, c.http_port, 0, 65535); }},
         {"api_key", [&](auto& k, element x) { c.http_api_key = read_string(k, x); }},
       });
     }},
    {"security", [&](auto& p, element v) {
       read_object(p, v, {
         {"insecure_plaintext", [&](auto& k, element x) { c.insecure_plaintext = read_bool(k, x); }},
         {"max_connections", [&](auto& k, element x) { read_uint(k, x, c.max_connections, 1, 1000000); }},
         {"handshake_timeout_ms", [&](auto& k, element x) { read_uint(k, x, c.handshake_timeout_ms, 100, 600000); }},
         {"max_message_mb", [&](auto& k, element x) { read_uint(k, x, c.max_message_mb, 1, 4095); }},
         {"tls", [&](auto& t, element tv) {
            read_object(t, tv, {
              {"ca", [&](auto& k, element x) { c.tls_ca = read_string(k, x); }},
              {"certificate", [&](auto& k, element x) { c.tls_certificate = read_string(k, x); }},
              {"key", [&](auto& k, element x) { c.tls_key = read_string(k, x); }},
            });
          }},
       });
     }},
  });
}

} // namespace

bool valid_node_id(std::string_view id) {
  return !id.empty() && id.size() <= 128
         && std::all_of(id.begin(), id.end(), [](char ch) { return ch > ' ' && ch < 127; });
}

bool parse_address(std::string_view addr, std::string& host, uint16_t& port) {
  auto colon = addr.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == addr.size())
    return false;
  unsigned value = 0;
  auto digits = addr.substr(colon + 1);
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (ec != std::errc{} || ptr != digits.data() + digits.size() || value > 65535)
    return false;
  host = std::string(addr.substr(0, colon));
  port = static_cast<uint16_t>(value);
  return true;
}

config_error validate(const node_config& cfg) {
  if (!valid_node_id(cfg.id))
    return {"config: node.id: expected 1 to 128 printable ASCII characters without spaces, got \"" + cfg.id + "\""};
  if (cfg.data_dir.empty())
    return {"config: node.data_dir: expected a non-empty string"};
  if (cfg.cluster_name.empty() || cfg.cluster_name.size() > 64
      || cfg.cluster_name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
           != std::string::npos)
    return {"config: cluster.name: expected 1 to 64 letters, digits, '.', '_' or '-', got \"" + cfg.cluster_name + "\""};
  if (cfg.http_port != 0 && (cfg.http_port == cfg.metrics_port || cfg.http_port == cfg.port))
    return {"config: http.port: " + std::to_string(cfg.http_port) + " is already the node's "
            + (cfg.http_port == cfg.port ? "port" : "metrics.port")};
  if (cfg.failure_timeout_ms < cfg.heartbeat_ms)
    return {"config: cluster.failure_timeout_ms: expected at least cluster.heartbeat_ms ("
            + std::to_string(cfg.heartbeat_ms) + "), got " + std::to_string(cfg.failure_timeout_ms)};
  return {};
}

bool is_loopback(std::string_view host) {
  if (host == "localhost" || host == "::1" || host == "[::1]")
    return true;
  // 127.0.0.0/8, written as four decimal octets.
  if (host.substr(0, 4) != "127.")
    return false;
  int dots = 0;
  unsigned octet = 0, digits = 0;
  for (char ch : host) {
    if (ch == '.') {
      if (digits == 0 || octet > 255)
        return false;
      ++dots, octet = 0, digits = 0;
    } else if (ch >= '0' && ch <= '9' && digits < 3) {
      octet = octet * 10 + unsigned(ch - '0'), ++digits;
    } else {
      return false;
    }
  }
  return dots == 3 && digits > 0 && octet <= 255;
}

void use_client_tls_dir(node_config& cfg, const std::string& dir) {
  cfg.tls_ca = dir + "/ca.pem";
  cfg.tls_certificate = dir + "/client.pem";
  cfg.tls_key = dir + "/client.key";
}

config_error check_tls_files(const node_config& cfg) {
  if (!cfg.tls())
    return {};
  std::pair<const char*, const std::string*> files[] = {
    {"ca", &cfg.tls_ca}, {"certificate", &cfg.tls_certificate}, {"key", &cfg.tls_key}};
  for (auto& [name, path] : files)
    if (path->empty())
      return {std::string("config: security.tls.") + name + ": required with the other security.tls keys (ca, "
              "certificate and key: PEM files, e.g. from scripts/make-certs.sh)"};
  for (auto& [name, path] : files)
    if (!std::ifstream(*path).good())
      return {std::string("config: security.tls.") + name + ": cannot read '" + *path + "'"};
  return {};
}

config_error serving_rules(const node_config& cfg) {
  if (auto e = check_tls_files(cfg))
    return e;
  if (!is_loopback(cfg.host) && !cfg.insecure_plaintext && !cfg.tls())
    return {"config: node.host: \"" + cfg.host + "\" is not a loopback address, and a node without TLS serves "
            "loopback only (anyone who reaches a plaintext port can join the cluster, read and delete); set "
            "security.insecure_plaintext to true to serve it anyway"};
  return {};
}

config_error parse_config(std::string_view json, node_config& out) {
  simdjson::dom::parser parser;
  simdjson::padded_string padded(json);
  element root;
  if (auto err = parser.parse(padded).get(root))
    return {"config: not valid JSON" + json_error_place(json) + ": " + simdjson::error_message(err)};
  node_config c = out;
  try {
    read_root(root, c);
  } catch (const error_found& e) {
    return {"config: " + e.message};
  }
  if (auto err = validate(c))
    return err;
  out = std::move(c);
  return {};
}

config_error load_config_file(const std::string& path, node_config& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return {"config: cannot read '" + path + "'"};
  std::stringstream ss;
  ss << in.rdbuf();
  auto err = parse_config(ss.str(), out);
  if (err)
    err.message = path + ": " + err.message;
  return err;
}

} // namespace p2p
