#include "runtime/http_server.hpp"

#include <optional>
#include <thread>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <simdjson.h>

#include "core/json_writer.hpp"
#include "core/log.hpp"
#include "protocol/errors.hpp"
#include "protocol/messages.hpp"
#include "runtime/metrics_text.hpp"
#include "runtime/status_json.hpp"
#include "vectors/filter.hpp"
#include "vectors/metric.hpp"

namespace p2p {

namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

constexpr auto io_timeout = std::chrono::seconds(30);
/// /metrics answers by then even while the node is saturated (parts still out are their last
/// answers, counted in p2p_status_late_parts): well inside Prometheus' default scrape timeout.
constexpr uint32_t metrics_deadline_ms = 300;
constexpr auto node_timeout = std::chrono::seconds(60);

struct reply {
  http::status status = http::status::ok;
  std::string body;
  const char* type = "application/json";
};

reply json_error(http::status status, const std::string& message) {
  json_writer w;
  w.begin_object().field("error", message).end_object();
  return {status, w.take() + "\n"};
}

reply json_ok(std::string body) { return {http::status::ok, std::move(body) + "\n"}; }

reply text(http::status status, std::string body) { return {status, std::move(body), "text/plain; charset=utf-8"}; }

/// The HTTP status for an error the node answered with.
reply from_error(const caf::error& e) {
  http::status status = http::status::internal_server_error;
  switch (code_of(e)) {
    case errc::usage:
    case errc::invalid_input:
      status = http::status::bad_request;
      break;
    case errc::not_found:
      status = http::status::not_found;
      break;
    case errc::conflict:
      status = http::status::conflict;
      break;
    case errc::refused:
    case errc::busy:
    case errc::unavailable:
    case errc::protocol_mismatch:
      status = http::status::service_unavailable;
      break;
    case errc::timeout:
      status = http::status::gateway_timeout;
      break;
    default:
      break;
  }
  return json_error(status, error_text(e));
}

/// A request's body is refused: 400 naming the field.
struct bad_request {
  std::string message;
};

std::string percent_decode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(uint8_t(s[i + 1])) && std::isxdigit(uint8_t(s[i + 2]))) {
      out.push_back(char(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

std::vector<std::string> split_path(std::string_view path) {
  std::vector<std::string> out;
  size_t at = 0;
  while (at < path.size()) {
    size_t slash = path.find('/', at);
    if (slash == std::string_view::npos)
      slash = path.size();
    if (slash > at)
      out.push_back(percent_decode(path.substr(at, slash - at)));
    at = slash + 1;
  }
  return out;
}

// --- reading request bodies (simdjson); every problem names the field ---

simdjson::dom::object body_object(simdjson::dom::parser& parser, const std::string& body) {
  simdjson::dom::element doc;
  if (auto err = parser.parse(body).get(doc); err)
    throw bad_request{std::string("body: not JSON (") + simdjson::error_message(err) + ")"};
  simdjson::dom::object obj;
  if (doc.get(obj))
    throw bad_request{"body: expected a JSON object"};
  return obj;
}

std::optional<simdjson::dom::element> member(simdjson::dom::object obj, const char* key) {
  simdjson::dom::element e;
  if (obj.at_key(key).get(e))
    return std::nullopt;
  return e;
}

uint64_t read_uint(simdjson::dom::element e, const std::string& field, uint64_t low, uint64_t high) {
  int64_t v = 0;
  if (e.get(v) || v < int64_t(low) || uint64_t(v) > high)
    throw bad_request{field + ": expected an integer from " + std::to_string(low) + " to " + std::to_string(high)};
  return uint64_t(v);
}

bool read_bool(simdjson::dom::element e, const std::string& field) {
  bool b = false;
  if (e.get(b))
    throw bad_request{field + ": expected true or false"};
  return b;
}

std::string read_string(simdjson::dom::element e, const std::string& field) {
  std::string_view s;
  if (e.get(s))
    throw bad_request{field + ": expected a string"};
  return std::string(s);
}

/// An id: a string, or an integer written as one.
std::string read_id(simdjson::dom::element e, const std::string& field) {
  std::string_view s;
  if (!e.get(s))
    return std::string(s);
  int64_t n = 0;
  if (!e.get(n))
    return std::to_string(n);
  throw bad_request{field + ": expected a string (or an integer)"};
}

/// Appends the numbers of a JSON array to `out`; their count.
size_t read_vector(simdjson::dom::element e, const std::string& field, std::vector<float>& out) {
  simdjson::dom::array a;
  if (e.get(a))
    throw bad_request{field + ": expected an array of numbers"};
  size_t n = 0;
  for (auto x : a) {
    double d = 0;
    if (x.get(d))
      throw bad_request{field + "[" + std::to_string(n) + "]: expected a number"};
    out.push_back(float(d));
    ++n;
  }
  if (n == 0)
    throw bad_request{field + ": empty"};
  return n;
}

std::string scalar_text(simdjson::dom::element e, const std::string& field) {
  std::string_view s;
  if (!e.get(s))
    return std::string(s);
  bool b = false;
  if (!e.get(b))
    return b ? "true" : "false";
  double d = 0;
  if (!e.get(d)) {
    json_writer w;
    w.value(d);
    return w.str();
  }
  throw bad_request{field + ": expected a string, number or boolean"};
}

/// "filter": {"key": value | [any of] | {"ne": v, "gte": n, "lte": n}} or ["key=value", ...].
std::vector<std::string> read_filter(simdjson::dom::element e) {
  std::vector<std::string> out;
  simdjson::dom::array list;
  if (!e.get(list)) {
    size_t i = 0;
    for (auto x : list)
      out.push_back(read_string(x, "filter[" + std::to_string(i++) + "]"));
  } else {
    simdjson::dom::object obj;
    if (e.get(obj))
      throw bad_request{"filter: expected an object ({\"key\": \"value\"}) or a list of \"KEY=VALUE\" strings"};
    for (auto [k, v] : obj) {
      std::string key(k), field = "filter." + key;
      simdjson::dom::array any;
      simdjson::dom::object ops;
      if (!v.get(any)) {
        std::string values;
        size_t i = 0;
        for (auto x : any) {
          values += (i ? "|" : "") + scalar_text(x, field + "[" + std::to_string(i) + "]");
          ++i;
        }
        if (values.empty())
          throw bad_request{field + ": an empty list matches nothing"};
        out.push_back(key + "=" + values);
      } else if (!v.get(ops)) {
        for (auto [op, x] : ops) {
          std::string name(op);
          const char* sym = name == "ne" ? "!=" : name == "gte" ? ">=" : name == "lte" ? "<=" : name == "eq" ? "=" : nullptr;
          if (!sym)
            throw bad_request{field + "." + name + ": expected eq, ne, gte or lte"};
          out.push_back(key + sym + scalar_text(x, field + "." + name));
        }
      } else {
        out.push_back(key + "=" + scalar_text(v, field));
      }
    }
  }
  std::vector<filter_condition> parsed;
  if (auto err = parse_filters(out, parsed); !err.empty())
    throw bad_request{"filter: " + err.substr(std::string("--filter ").size())};
  return out;
}

void write_hits(json_writer& w, const search_result& r, size_t& hit, size_t q, bool with_payload) {
  w.key("results").begin_array();
  for (uint32_t i = 0; i < r.counts[q]; ++i, ++hit) {
    w.begin_object().field("id", r.ids[hit]).field("score", r.scores[hit]);
    if (with_payload && hit < r.metadata.size())
      w.key("metadata").raw(r.metadata[hit], "{}");
    w.end_object();
  }
  w.end_array().field("took_us", r.took_us[q]);
}

void write_partial(json_writer& w, const search_result& r) {
  w.field("partial", r.missing_shards > 0);
  if (r.missing_shards > 0)
    w.field("missing_shards", r.missing_shards);
}

const char* const dashboard_html =
#include "runtime/dashboard.html.inc"
  ;

} // namespace

struct http_server::impl {
  caf::actor_system& sys;
  caf::actor node;
  http_options opts;
  asio::io_context ioc{1};
  tcp::acceptor acceptor{ioc};
  std::optional<asio::ssl::context> tls; // set: every connection is HTTPS, client certificate required
  std::thread thread;

  impl(caf::actor_system& s, caf::actor n, http_options o) : sys(s), node(std::move(n)), opts(std::move(o)) {}
  void accept();
};

namespace {

/// One connection: plain (beast::tcp_stream) or HTTPS (an ssl_stream over it).
template <class Stream>
class session : public std::enable_shared_from_this<session<Stream>> {
  static constexpr bool tls = !std::is_same_v<Stream, beast::tcp_stream>;
  using std::enable_shared_from_this<session<Stream>>::shared_from_this;

public:
  session(tcp::socket socket, http_server::impl& srv) : stream_(make_stream(std::move(socket), srv)), srv_(srv) {}

  void start() {
    if constexpr (tls) {
      beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(10));
      stream_.async_handshake(asio::ssl::stream_base::server, [self = shared_from_this()](beast::error_code ec) {
        if (!ec)
          self->read_next(); // a client without a certificate of the CA is refused here
      });
    } else {
      read_next();
    }
  }

private:
  static Stream make_stream(tcp::socket socket, http_server::impl& srv) {
    if constexpr (tls)
      return Stream(std::move(socket), *srv.tls);
    else
      return Stream(std::move(socket));
  }

  void read_next() {
    parser_.emplace();
    parser_->body_limit(srv_.opts.max_body);
    beast::get_lowest_layer(stream_).expires_after(io_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    if (ec == http::error::body_limit) {
      keep_alive_ = false;
      finish(json_error(http::status::payload_too_large,
                        "body: larger than the limit of " + std::to_string(srv_.opts.max_body) + " bytes"));
      return;
    }
    if (ec)
      return; // closed, timed out or malformed: nothing to answer
    req_ = parser_->release();
    keep_alive_ = req_.keep_alive();
    try {
      route();
    } catch (const bad_request& e) {
      finish(json_error(http::status::bad_request, e.message));
    } catch (const std::exception& e) {
      finish(json_error(http::status::internal_server_error, e.what()));
    }
  }

  /// Asks the node and calls `done(caf::expected<R>)` on the IO thread with its answer.
  template <class R, class Done, class... Ts>
  void ask(std::chrono::seconds timeout, Done done, Ts... xs) {
    auto self = shared_from_this();
    auto post = [self, done](caf::expected<R> r) mutable {
      asio::post(self->stream_.get_executor(), [self, done, r = std::move(r)]() mutable {
        try {
          done(std::move(r));
        } catch (const bad_request& e) {
          self->finish(json_error(http::status::bad_request, e.message));
        }
      });
    };
    auto asker = [node = srv_.node, timeout, post, xs...](caf::event_based_actor* a) mutable {
      constexpr auto priority = is_control_request<Ts...> ? caf::message_priority::high : caf::message_priority::normal;
      a->template request<priority>(node, timeout, xs...).then([post](R& r) mutable { post(caf::expected<R>(std::move(r))); },
                                            [post](caf::error& e) mutable { post(caf::expected<R>(std::move(e))); });
    };
    // A control request's asker has a thread of its own (for the one request): a scheduled one
    // waits for a scheduler thread twice, to send and to take the answer, behind shards that hold
    // both threads during a put (/metrics p99 1.4 s with the node's answer itself at 0.3 s).
    if constexpr (is_control_request<Ts...>)
      srv_.sys.spawn<caf::detached>(std::move(asker));
    else
      srv_.sys.spawn(std::move(asker));
  }

  /// Answers with `f(value)` or the node's error.
  template <class R, class F, class... Ts> void answer(F f, Ts... xs) {
    ask<R>(
      node_timeout,
      [self = shared_from_this(), f](caf::expected<R> r) mutable {
        self->finish(r ? f(*r) : from_error(r.error()));
      },
      xs...);
  }

  bool authorized() const {
    if (srv_.opts.api_key.empty())
      return true;
    auto it = req_.find(http::field::authorization);
    return it != req_.end() && it->value() == "Bearer " + srv_.opts.api_key;
  }

  void route() {
    auto target = std::string(req_.target());
    auto path = target.substr(0, target.find('?'));
    auto seg = split_path(path);
    auto method = req_.method();
    bool read = method == http::verb::get || method == http::verb::head;
    if (path == "/healthz" || path == "/readyz") {
      if (!read)
        return finish(json_error(http::status::method_not_allowed, path + ": GET only"));
      if (path == "/readyz" && !authorized())
        return unauthorized();
      bool ready = path == "/readyz";
      return ask<std::string>(
        std::chrono::seconds(1),
        [self = shared_from_this(), ready](caf::expected<std::string> why) {
          if (!why)
            return self->finish(text(http::status::service_unavailable,
                                     "the node did not answer within 1 s: " + error_text(why.error()) + "\n"));
          bool ok = !ready || why->empty();
          self->finish(text(ok ? http::status::ok : http::status::service_unavailable,
                            !ready ? "ok\n" : ok ? "ready\n" : *why + "\n"));
        },
        serving_atom::value);
    }
    if (seg.empty() && read && srv_.opts.api) // the page holds no data: it reads /status with the key
      return finish({http::status::ok, dashboard_html, "text/html; charset=utf-8"});
    if (!authorized())
      return unauthorized();
    if (path == "/metrics" && read)
      return ask<node_metrics>(
        std::chrono::seconds(10),
        [self = shared_from_this()](caf::expected<node_metrics> m) {
          if (!m)
            return self->finish(text(http::status::service_unavailable, "the node did not answer: " + error_text(m.error()) + "\n"));
          self->finish({http::status::ok, prometheus_text(*m), "text/plain; version=0.0.4; charset=utf-8"});
        },
        metrics_atom::value, metrics_deadline_ms);
    if (!srv_.opts.api)
      return finish(text(http::status::not_found, "not found: " + path + " (this port serves /metrics, /healthz, /readyz)\n"));
    if (seg.size() == 1 && seg[0] == "status" && read)
      return answer<node_metrics>([](node_metrics& m) { return json_ok(status_json(m, false)); }, metrics_atom::value);
    if (seg.size() == 1 && seg[0] == "peers" && read)
      return answer<std::vector<member_info>>([](std::vector<member_info>& m) { return json_ok(peers_json(m)); },
                                              peers_atom::value);
    if (!seg.empty() && seg[0] == "collections")
      return collections(seg, method);
    finish(json_error(http::status::not_found, "not found: " + std::string(req_.method_string()) + " " + path));
  }

  void collections(const std::vector<std::string>& seg, http::verb method) {
    bool read = method == http::verb::get || method == http::verb::head;
    if (seg.size() == 1 && read)
      return answer<std::vector<collection_info>>(
        [](std::vector<collection_info>& list) {
          json_writer w;
          w.begin_object().key("collections").begin_array();
          for (auto& c : list)
            write_collection(w, c);
          w.end_array().end_object();
          return json_ok(w.take());
        },
        collection_list_atom::value);
    if (seg.size() == 2 && method == http::verb::put)
      return create(seg[1]);
    if (seg.size() == 2 && method == http::verb::delete_)
      return answer<uint64_t>(
        [name = seg[1]](uint64_t n) {
          json_writer w;
          w.begin_object().field("dropped", name).field("vectors_removed", n).end_object();
          return json_ok(w.take());
        },
        collection_drop_atom::value, seg[1]);
    if (seg.size() == 3 && seg[2] == "points" && (method == http::verb::put || method == http::verb::post))
      return upsert(seg[1]);
    if (seg.size() == 4 && seg[2] == "points" && read)
      return answer<vector_record>(
        [](vector_record& r) {
          json_writer w;
          w.begin_object().field("id", r.id).key("vector").begin_array();
          for (float v : r.values)
            w.value(v);
          w.end_array().key("metadata").raw(r.metadata, "{}").end_object();
          return json_ok(w.take());
        },
        get_atom::value, seg[1], seg[3]);
    if (seg.size() == 4 && seg[2] == "points" && method == http::verb::delete_)
      return answer<bool>(
        [collection = seg[1], id = seg[3]](bool deleted) {
          if (!deleted)
            return json_error(http::status::not_found, "not found: no id '" + id + "' in collection '" + collection + "'");
          json_writer w;
          w.begin_object().field("deleted", id).end_object();
          return json_ok(w.take());
        },
        delete_atom::value, seg[1], seg[3]);
    if (seg.size() == 3 && seg[2] == "search" && method == http::verb::post)
      return search(seg[1]);
    if (seg.size() == 3 && seg[2] == "documents" && method == http::verb::post)
      return ingest(seg[1]);
    finish(json_error(http::status::not_found, "not found: " + std::string(req_.method_string()) + " "
                                                 + std::string(req_.target())));
  }

  void create(const std::string& name) {
    auto obj = body_object(parser_json_, req_.body());
    auto dim = member(obj, "dim");
    if (!dim)
      throw bad_request{"dim: required, an integer from 1 to 65536"};
    collection_spec spec{name, uint32_t(read_uint(*dim, "dim", 1, 65536)), uint8_t(metric_kind::cosine)};
    if (auto m = member(obj, "metric")) {
      auto text = read_string(*m, "metric");
      auto kind = parse_metric(text);
      if (!kind)
        throw bad_request{"metric: expected \"cosine\", \"ip\" or \"l2\", got \"" + text + "\""};
      spec.metric = uint8_t(*kind);
    }
    answer<bool>(
      [spec](bool created) {
        json_writer w;
        w.begin_object()
          .field("collection", spec.name)
          .field("created", created)
          .field("dim", spec.dim)
          .field("metric", to_string(metric_kind(spec.metric)))
          .end_object();
        return json_ok(w.take());
      },
      collection_create_atom::value, spec);
  }

  void upsert(const std::string& collection) {
    auto obj = body_object(parser_json_, req_.body());
    auto points = member(obj, "points");
    simdjson::dom::array list;
    if (!points || points->get(list))
      throw bad_request{"points: required, an array of {\"id\", \"vector\", \"metadata\"}"};
    if (list.size() > srv_.opts.max_points)
      return finish(json_error(http::status::payload_too_large, "points: at most " + std::to_string(srv_.opts.max_points)
                                                                    + " per request, got " + std::to_string(list.size())));
    vector_batch b{collection, 0, {}, {}, {}, {}};
    bool any_metadata = false;
    size_t i = 0;
    for (auto p : list) {
      std::string field = "points[" + std::to_string(i) + "]";
      simdjson::dom::object po;
      if (p.get(po))
        throw bad_request{field + ": expected an object"};
      auto id = member(po, "id");
      if (!id)
        throw bad_request{field + ".id: required"};
      b.ids.push_back(read_id(*id, field + ".id"));
      auto vec = member(po, "vector");
      if (!vec)
        throw bad_request{field + ".vector: required"};
      size_t n = read_vector(*vec, field + ".vector", b.values);
      if (i == 0)
        b.dim = uint32_t(n);
      else if (n != b.dim)
        throw bad_request{field + ".vector: " + std::to_string(n) + " values, points[0] has " + std::to_string(b.dim)};
      std::string metadata;
      if (auto m = member(po, "metadata")) {
        simdjson::dom::object mo;
        if (m->get(mo))
          throw bad_request{field + ".metadata: expected an object"};
        metadata = simdjson::minify(*m);
        any_metadata = true;
      }
      b.metadata.push_back(std::move(metadata));
      ++i;
    }
    if (b.ids.empty())
      throw bad_request{"points: empty"};
    if (!any_metadata)
      b.metadata.clear();
    answer<uint64_t>(
      [](uint64_t n) {
        json_writer w;
        w.begin_object().field("stored", n).end_object();
        return json_ok(w.take());
      },
      put_atom::value, std::move(b));
  }

  void search(const std::string& collection) {
    auto obj = body_object(parser_json_, req_.body());
    uint32_t k = 10, ef = 0;
    bool exact = false, with_payload = false;
    std::vector<std::string> filter;
    if (auto e = member(obj, "k"))
      k = uint32_t(read_uint(*e, "k", 1, 10000));
    if (auto e = member(obj, "ef"))
      ef = uint32_t(read_uint(*e, "ef", 1, 100000));
    if (auto e = member(obj, "exact"))
      exact = read_bool(*e, "exact");
    if (auto e = member(obj, "with_payload"))
      with_payload = read_bool(*e, "with_payload");
    if (auto e = member(obj, "filter"))
      filter = read_filter(*e);
    auto vector = member(obj, "vector"), vectors = member(obj, "vectors"), text = member(obj, "text");
    if (int(bool(vector)) + int(bool(vectors)) + int(bool(text)) != 1)
      throw bad_request{"give one of \"vector\", \"vectors\" or \"text\""};
    auto one = [with_payload](search_result& r) {
      json_writer w;
      size_t hit = 0;
      w.begin_object();
      if (r.counts.empty())
        w.key("results").begin_array().end_array().field("took_us", 0);
      else
        write_hits(w, r, hit, 0, with_payload);
      write_partial(w, r);
      w.end_object();
      return json_ok(w.take());
    };
    if (text) {
      auto query = read_string(*text, "text");
      return answer<search_result>(one, text_search_atom::value,
                                   text_search_request{collection, {query}, k, ef, exact, with_payload, filter});
    }
    search_request req{collection, 0, {}, k, ef, exact, with_payload, filter};
    if (vector) {
      req.dim = uint32_t(read_vector(*vector, "vector", req.queries));
      return answer<search_result>(one, search_atom::value, std::move(req));
    }
    simdjson::dom::array list;
    if (vectors->get(list) || list.size() == 0)
      throw bad_request{"vectors: expected a non-empty array of arrays of numbers"};
    if (list.size() > srv_.opts.max_queries)
      return finish(json_error(http::status::payload_too_large, "vectors: at most " + std::to_string(srv_.opts.max_queries)
                                                                    + " per request, got " + std::to_string(list.size())));
    size_t i = 0;
    for (auto v : list) {
      size_t n = read_vector(v, "vectors[" + std::to_string(i) + "]", req.queries);
      if (i == 0)
        req.dim = uint32_t(n);
      else if (n != req.dim)
        throw bad_request{"vectors[" + std::to_string(i) + "]: " + std::to_string(n) + " values, vectors[0] has "
                          + std::to_string(req.dim)};
      ++i;
    }
    answer<search_result>(
      [with_payload](search_result& r) {
        json_writer w;
        size_t hit = 0;
        w.begin_object().key("batches").begin_array();
        for (size_t q = 0; q < r.counts.size(); ++q) {
          w.begin_object();
          write_hits(w, r, hit, q, with_payload);
          w.end_object();
        }
        w.end_array();
        write_partial(w, r);
        w.end_object();
        return json_ok(w.take());
      },
      search_atom::value, std::move(req));
  }

  void ingest(const std::string& collection) {
    auto obj = body_object(parser_json_, req_.body());
    auto docs = member(obj, "documents");
    simdjson::dom::array list;
    if (!docs || docs->get(list))
      throw bad_request{"documents: required, an array of {\"id\", \"text\"}"};
    if (list.size() > srv_.opts.max_points)
      return finish(json_error(http::status::payload_too_large, "documents: at most " + std::to_string(srv_.opts.max_points)
                                                                    + " per request, got " + std::to_string(list.size())));
    document_batch b{collection, {}, {}, 200, 20};
    if (auto e = member(obj, "chunk_size"))
      b.chunk_size = uint32_t(read_uint(*e, "chunk_size", 1, 100000));
    if (auto e = member(obj, "overlap"))
      b.overlap = uint32_t(read_uint(*e, "overlap", 0, b.chunk_size - 1));
    size_t i = 0;
    for (auto d : list) {
      std::string field = "documents[" + std::to_string(i) + "]";
      simdjson::dom::object dobj;
      if (d.get(dobj))
        throw bad_request{field + ": expected an object"};
      auto id = member(dobj, "id");
      b.ids.push_back(id ? read_id(*id, field + ".id") : std::to_string(i));
      auto t = member(dobj, "text");
      if (!t)
        throw bad_request{field + ".text: required"};
      b.texts.push_back(read_string(*t, field + ".text"));
      ++i;
    }
    if (b.ids.empty())
      throw bad_request{"documents: empty"};
    answer<ingest_result>(
      [](ingest_result& r) {
        json_writer w;
        w.begin_object()
          .field("documents", r.documents)
          .field("chunks", r.chunks)
          .field("failed", r.errors.size())
          .key("errors")
          .begin_array();
        for (auto& e : r.errors)
          w.value(e);
        w.end_array().end_object();
        return json_ok(w.take());
      },
      ingest_atom::value, std::move(b));
  }

  void unauthorized() {
    auto r = json_error(http::status::unauthorized, "unauthorized: send \"Authorization: Bearer KEY\" (http.api_key)");
    res_ = {};
    res_.set(http::field::www_authenticate, "Bearer");
    finish(std::move(r), false);
  }

  void finish(reply r, bool fresh = true) {
    if (fresh)
      res_ = {};
    res_.version(req_.version() ? req_.version() : 11);
    res_.result(r.status);
    res_.keep_alive(keep_alive_);
    res_.set(http::field::server, "p2p-agent");
    res_.set(http::field::content_type, r.type);
    res_.body() = std::move(r.body);
    res_.prepare_payload();
    if (req_.method() == http::verb::head)
      res_.body().clear();
    beast::get_lowest_layer(stream_).expires_after(io_timeout);
    http::async_write(stream_, res_, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (!ec && self->keep_alive_) {
        self->read_next();
        return;
      }
      self->close();
    });
  }

  void close() {
    if constexpr (tls) {
      beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(5));
      stream_.async_shutdown([self = shared_from_this()](beast::error_code) {});
    } else {
      beast::error_code ignored;
      stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    }
  }

  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::request<http::string_body> req_;
  http::response<http::string_body> res_;
  simdjson::dom::parser parser_json_;
  bool keep_alive_ = false;
  http_server::impl& srv_;
};

} // namespace

void http_server::impl::accept() {
  acceptor.async_accept([this](beast::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted)
      return;
    if (!ec) {
      if (tls)
        std::make_shared<session<beast::ssl_stream<beast::tcp_stream>>>(std::move(socket), *this)->start();
      else
        std::make_shared<session<beast::tcp_stream>>(std::move(socket), *this)->start();
    }
    accept();
  });
}

http_server::http_server(caf::actor_system& sys, caf::actor node, http_options options)
  : impl_(std::make_unique<impl>(sys, std::move(node), std::move(options))) {
  auto& o = impl_->opts;
  const char* what = o.api ? "http" : "metrics";
  if (!o.tls_certificate.empty()) {
    namespace ssl = asio::ssl;
    auto& ctx = impl_->tls.emplace(ssl::context::tls_server);
    try {
      ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3
                      | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
      ctx.use_certificate_chain_file(o.tls_certificate);
      ctx.use_private_key_file(o.tls_key, ssl::context::pem);
      ctx.load_verify_file(o.tls_ca);
      ctx.set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
    } catch (const std::exception& e) {
      throw std::runtime_error(std::string(what) + ": TLS set-up failed (" + e.what() + ")");
    }
  }
  beast::error_code ec;
  auto address = asio::ip::make_address(o.host, ec);
  if (ec)
    throw std::runtime_error(std::string(what) + ": bad host '" + o.host + "': " + ec.message());
  tcp::endpoint ep{address, o.port};
  auto& a = impl_->acceptor;
  if (a.open(ep.protocol(), ec); !ec)
    if (a.set_option(asio::socket_base::reuse_address(true), ec); !ec)
      if (a.bind(ep, ec); !ec)
        a.listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    throw std::runtime_error(std::string(what) + ": cannot listen on " + o.host + ":" + std::to_string(o.port) + ": "
                             + ec.message());
  impl_->accept();
  impl_->thread = std::thread([this] { impl_->ioc.run(); });
}

void http_server::stop() {
  impl_->ioc.stop();
  if (impl_->thread.joinable())
    impl_->thread.join();
  // Nothing routes a request now (each asker has its own copy of the handle). The node actor has
  // a thread of its own, which ends only once nothing holds the actor: node_host::stop would wait
  // for ever on this handle (stop_node in actors/node_actor.hpp).
  impl_->node = nullptr;
}

http_server::~http_server() { stop(); }

uint16_t http_server::port() const { return impl_->acceptor.local_endpoint().port(); }

} // namespace p2p
