#include <doctest/doctest.h>

#include "vectors/filter.hpp"

using namespace p2p;

TEST_CASE("filter conditions parse, and bad ones are named") {
  filter_condition c;
  CHECK(parse_filter("lang=en", c) == "");
  CHECK((c.key == "lang" && c.op == filter_condition::eq && c.values == std::vector<std::string>{"en"}));
  CHECK(parse_filter("lang=en|de", c) == "");
  CHECK(c.values == std::vector<std::string>{"en", "de"});
  CHECK(parse_filter("lang!=en", c) == "");
  CHECK(c.op == filter_condition::ne);
  CHECK(parse_filter("year>=2020", c) == "");
  CHECK((c.op == filter_condition::ge && c.number == 2020));
  CHECK(parse_filter("score<=-0.5", c) == "");
  CHECK((c.op == filter_condition::le && c.number == -0.5));
  CHECK(parse_filter("lang", c) == "--filter 'lang': expected KEY=VALUE, KEY!=VALUE, KEY>=N or KEY<=N");
  CHECK(parse_filter("=en", c) == "--filter '=en': no key before the operator");
  CHECK(parse_filter("lang=", c) == "--filter 'lang=': no value after the operator");
  CHECK(parse_filter("year>=soon", c) == "--filter 'year>=soon': expected a number after >=, got 'soon'");
  CHECK(parse_filter("year>2020", c) == "--filter 'year>2020': unknown operator (expected =, !=, >= or <=)");
  CHECK(parse_filter("a=x||y", c) == "--filter 'a=x||y': empty value in A|B");
}

TEST_CASE("filters match strings, numbers and booleans of top-level metadata fields") {
  std::string json = R"({"lang": "en", "year": 2021, "score": 0.25, "draft": false, "tags": ["a"]})";
  auto holds = [&](const char* text) {
    filter_condition c;
    REQUIRE(parse_filter(text, c) == "");
    return matches(c, field_of(json, c.key));
  };
  CHECK(holds("lang=en"));
  CHECK(holds("lang=de|en"));
  CHECK_FALSE(holds("lang=de"));
  CHECK(holds("lang!=de"));
  CHECK_FALSE(holds("lang!=en"));
  CHECK(holds("year=2021"));
  CHECK(holds("year=2021.0"));
  CHECK(holds("year>=2021"));
  CHECK_FALSE(holds("year>=2022"));
  CHECK(holds("score<=0.25"));
  CHECK(holds("draft=false"));
  CHECK_FALSE(holds("draft=true"));
  CHECK_FALSE(holds("tags=a"));   // not a scalar
  CHECK_FALSE(holds("missing=x")); // absent: no equality holds...
  CHECK(holds("missing!=x"));      // ...and every inequality does
  CHECK_FALSE(holds("lang>=1"));   // a string is no number
  CHECK(field_of("", "lang").type == field_value::absent);
  CHECK(field_of("not json", "lang").type == field_value::absent);
  CHECK(field_of("[1, 2]", "lang").type == field_value::absent);
}
