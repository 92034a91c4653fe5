#include <doctest/doctest.h>

#include "text/text_kernels.hpp"

using namespace p2p;

namespace {

std::vector<std::string> words(std::string_view text) {
  std::vector<token_span> spans;
  tokenize(text, spans);
  std::vector<std::string> out;
  for (auto& s : spans)
    out.emplace_back(text.substr(s.begin, s.end - s.begin));
  return out;
}

} // namespace

TEST_CASE("normalize lowercases, folds whitespace and strips control characters, UTF-8 safe") {
  CHECK(normalize_text("  Hello,\t\tWORLD \n\n again  ") == "hello, world again");
  CHECK(normalize_text("a\x01\x02" "b\x7f" "c") == "abc");
  CHECK(normalize_text("\xC3\x84PFEL \xC3\x9C" "BER") == "\xC3\xA4pfel \xC3\xBC" "ber"); // ÄPFEL ÜBER
  CHECK(normalize_text("\xD0\x9C\xD0\x98\xD0\xA0") == "\xD0\xBC\xD0\xB8\xD1\x80");       // МИР -> мир
  CHECK(normalize_text("\xCE\xA9\xCE\xA3") == "\xCF\x89\xCF\x83");                       // ΩΣ -> ωσ
  CHECK(normalize_text("a\xC2\xA0" "b\xE3\x80\x80" "c") == "a b c");                     // NBSP, ideographic space
  CHECK(normalize_text("\xE6\x97\xA5\xE6\x9C\xAC") == "\xE6\x97\xA5\xE6\x9C\xAC");       // CJK unchanged
}

TEST_CASE("empty and whitespace-only documents have no words and no chunks") {
  for (std::string_view text : {"", "   \t\n  ", "\xC2\xA0\xE3\x80\x80", "..., !!"}) {
    document_summary s;
    CHECK(process_document(text, 10, 2, 5, s).empty());
    CHECK(s.words == 0);
    CHECK(s.top.empty());
    CHECK(s.chunks.empty());
    CHECK(normalize_text(text).find_first_not_of(".,! ") == std::string::npos);
  }
}

TEST_CASE("invalid UTF-8 is found at its byte and refused") {
  CHECK(find_invalid_utf8("plain ascii") == SIZE_MAX);
  CHECK(find_invalid_utf8("caf\xC3\xA9") == SIZE_MAX);
  CHECK(find_invalid_utf8("caf\xC3") == 3);               // truncated sequence
  CHECK(find_invalid_utf8("ab\xC0\xAF") == 2);            // overlong
  CHECK(find_invalid_utf8("x\xED\xA0\x80") == 1);         // surrogate
  CHECK(find_invalid_utf8("\xFF") == 0);
  CHECK(find_invalid_utf8("ok \xF0\x9F\x98\x80 ok") == SIZE_MAX); // emoji
  document_summary s;
  CHECK(process_document("good \xE2\x82 bad", 10, 0, 5, s) == "invalid UTF-8 at byte 5");
}

TEST_CASE("tokens are words with byte offsets into the original text") {
  CHECK(words("Hello, world! It's 2026.") == std::vector<std::string>{"Hello", "world", "It", "s", "2026"});
  CHECK(words("na\xC3\xAFve caf\xC3\xA9") == std::vector<std::string>{"na\xC3\xAFve", "caf\xC3\xA9"});
  CHECK(words("a\xE2\x80\x94" "b") == std::vector<std::string>{"a", "b"}); // em dash separates
  std::vector<token_span> spans;
  tokenize("  ab  cd", spans);
  REQUIRE(spans.size() == 2);
  CHECK(spans[1].begin == 6);
  CHECK(spans[1].end == 8);
}

TEST_CASE("top terms count lowercase forms, most frequent first, ties in byte order") {
  std::string text = "The cat and the dog. THE END, the cat.";
  std::vector<token_span> spans;
  tokenize(text, spans);
  auto top = top_terms(text, spans, 3);
  REQUIRE(top.size() == 3);
  CHECK(top[0] == std::pair<std::string, uint32_t>{"the", 4});
  CHECK(top[1] == std::pair<std::string, uint32_t>{"cat", 2});
  CHECK(top[2] == std::pair<std::string, uint32_t>{"and", 1});
}

TEST_CASE("chunks hold size tokens, step by size minus overlap, and cover the text to its last word") {
  std::string text = "w0 w1 w2 w3 w4 w5 w6 w7 w8 w9";
  std::vector<token_span> spans;
  tokenize(text, spans);
  auto chunks = chunk_tokens(spans, 4, 1);
  REQUIRE(chunks.size() == 3);
  auto chunk_text = [&](const text_chunk& c) { return text.substr(c.begin, c.end - c.begin); };
  CHECK(chunk_text(chunks[0]) == "w0 w1 w2 w3");
  CHECK(chunk_text(chunks[1]) == "w3 w4 w5 w6");
  CHECK(chunk_text(chunks[2]) == "w6 w7 w8 w9");
  CHECK(chunks[2].tokens == 4);
  auto no_overlap = chunk_tokens(spans, 3, 0);
  REQUIRE(no_overlap.size() == 4);
  CHECK(chunk_text(no_overlap[3]) == "w9");
  CHECK(no_overlap[3].tokens == 1);
  CHECK(chunk_tokens(spans, 20, 5).size() == 1);
  document_summary s;
  CHECK(process_document(text, 4, 4, 5, s) == "chunk overlap 4 must be smaller than the chunk size 4");
  CHECK(process_document(text, 0, 0, 5, s) == "chunk size must be at least 1");
}

TEST_CASE("a 10 MB document is processed whole, and one over the limit is refused") {
  std::string text;
  while (text.size() < 10'000'000)
    text += "Lorem ipsum dolor sit amet, consectetur adipiscing elit. ";
  document_summary s;
  REQUIRE(process_document(text, 256, 32, 3, s).empty());
  size_t sentences = text.size() / 57;
  CHECK(s.words == sentences * 8);
  CHECK(s.top[0].second == sentences);
  CHECK(s.chunks.front().begin == 0);
  CHECK(s.chunks.back().end == text.size() - 2); // the last word ends before ". "
  std::string huge(max_document_bytes + 1, 'a');
  CHECK(process_document(huge, 256, 0, 3, s).find("over the limit") != std::string::npos);
}
