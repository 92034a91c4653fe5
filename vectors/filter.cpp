#include "vectors/filter.hpp"

#include <charconv>
#include <cmath>

#include <simdjson.h>

namespace p2p {

namespace {

bool parse_number(std::string_view s, double& out) {
  if (s.empty())
    return false;
  auto r = std::from_chars(s.data(), s.data() + s.size(), out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size() && std::isfinite(out);
}

field_value value_of(simdjson::dom::element e) {
  field_value v;
  switch (e.type()) {
    case simdjson::dom::element_type::STRING:
      v.type = field_value::string;
      v.str = std::string(std::string_view(e));
      break;
    case simdjson::dom::element_type::INT64:
      v.type = field_value::number;
      v.num = double(int64_t(e));
      break;
    case simdjson::dom::element_type::UINT64:
      v.type = field_value::number;
      v.num = double(uint64_t(e));
      break;
    case simdjson::dom::element_type::DOUBLE:
      v.type = field_value::number;
      v.num = double(e);
      break;
    case simdjson::dom::element_type::BOOL:
      v.type = field_value::boolean;
      v.num = bool(e) ? 1 : 0;
      break;
    default:
      v.type = field_value::other;
  }
  return v;
}

bool equal(const field_value& v, const std::string& want) {
  switch (v.type) {
    case field_value::string:
      return v.str == want;
    case field_value::number: {
      double d = 0;
      return parse_number(want, d) && d == v.num;
    }
    case field_value::boolean:
      return want == (v.num != 0 ? "true" : "false");
    default:
      return false;
  }
}

} // namespace

std::string parse_filter(std::string_view text, filter_condition& out) {
  out = filter_condition{};
  auto named = [&](const std::string& what) { return "--filter '" + std::string(text) + "': " + what; };
  size_t at = text.find_first_of("!<>=");
  if (at == std::string_view::npos)
    return named("expected KEY=VALUE, KEY!=VALUE, KEY>=N or KEY<=N");
  if (at == 0)
    return named("no key before the operator");
  out.key = std::string(text.substr(0, at));
  std::string_view rest = text.substr(at);
  std::string_view value;
  if (rest.rfind("!=", 0) == 0) {
    out.op = filter_condition::ne;
    value = rest.substr(2);
  } else if (rest.rfind(">=", 0) == 0) {
    out.op = filter_condition::ge;
    value = rest.substr(2);
  } else if (rest.rfind("<=", 0) == 0) {
    out.op = filter_condition::le;
    value = rest.substr(2);
  } else if (rest[0] == '=') {
    out.op = filter_condition::eq;
    value = rest.substr(1);
  } else {
    return named("unknown operator (expected =, !=, >= or <=)");
  }
  if (value.empty())
    return named("no value after the operator");
  if (out.op == filter_condition::ge || out.op == filter_condition::le) {
    if (!parse_number(value, out.number))
      return named("expected a number after " + std::string(out.op == filter_condition::ge ? ">=" : "<=") + ", got '"
                   + std::string(value) + "'");
    return {};
  }
  for (size_t start = 0;;) {
    size_t bar = value.find('|', start);
    auto one = value.substr(start, bar == std::string_view::npos ? std::string_view::npos : bar - start);
    if (one.empty())
      return named("empty value in A|B");
    out.values.emplace_back(one);
    if (bar == std::string_view::npos)
      break;
    start = bar + 1;
  }
  return {};
}

std::string parse_filters(const std::vector<std::string>& texts, std::vector<filter_condition>& out) {
  out.clear();
  for (auto& t : texts) {
    filter_condition c;
    if (auto err = parse_filter(t, c); !err.empty())
      return err;
    out.push_back(std::move(c));
  }
  return {};
}

void fields_of(std::string_view json, const std::vector<std::string>& keys, std::vector<field_value>& out) {
  out.assign(keys.size(), field_value{});
  if (json.empty())
    return;
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(json.data(), json.size()).get(doc) != simdjson::SUCCESS)
    return;
  simdjson::dom::object obj;
  if (doc.get(obj) != simdjson::SUCCESS)
    return;
  for (size_t i = 0; i < keys.size(); ++i) {
    simdjson::dom::element e;
    if (obj.at_key(keys[i]).get(e) == simdjson::SUCCESS)
      out[i] = value_of(e);
  }
}

field_value field_of(std::string_view json, const std::string& key) {
  std::vector<field_value> out;
  fields_of(json, {key}, out);
  return out[0];
}

bool matches(const filter_condition& c, const field_value& v) {
  switch (c.op) {
    case filter_condition::eq:
      for (auto& want : c.values)
        if (equal(v, want))
          return true;
      return false;
    case filter_condition::ne:
      for (auto& want : c.values)
        if (equal(v, want))
          return false;
      return true;
    case filter_condition::ge:
      return v.type == field_value::number && v.num >= c.number;
    case filter_condition::le:
      return v.type == field_value::number && v.num <= c.number;
  }
  return false;
}

} // namespace p2p
