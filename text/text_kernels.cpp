#include "text/text_kernels.hpp"

#include "core/hashing.hpp"

#include <algorithm>
#include <array>

namespace p2p {

namespace {

/// Decodes one code point at `i` of valid UTF-8; advances `i`.
uint32_t decode(std::string_view s, size_t& i) {
  auto c = uint8_t(s[i]);
  if (c < 0x80) {
    ++i;
    return c;
  }
  int len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
  uint32_t cp = c & (0x3F >> (len - 1));
  for (int k = 1; k < len; ++k)
    cp = (cp << 6) | (uint8_t(s[i + k]) & 0x3F);
  i += len;
  return cp;
}

void encode(uint32_t cp, std::string& out) {
  if (cp < 0x80) {
    out.push_back(char(cp));
  } else if (cp < 0x800) {
    out.push_back(char(0xC0 | (cp >> 6)));
    out.push_back(char(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(char(0xE0 | (cp >> 12)));
    out.push_back(char(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(char(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(char(0xF0 | (cp >> 18)));
    out.push_back(char(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(char(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(char(0x80 | (cp & 0x3F)));
  }
}

uint32_t to_lower(uint32_t cp) {
  if (cp < 0x80)
    return (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp;
  if ((cp >= 0xC0 && cp <= 0xDE && cp != 0xD7) || (cp >= 0x391 && cp <= 0x3AB && cp != 0x3A2) ||
      (cp >= 0x410 && cp <= 0x42F))
    return cp + 32;
  if (cp >= 0x400 && cp <= 0x40F)
    return cp + 80;
  if (cp == 0x178)
    return 0xFF;
  if ((cp >= 0x100 && cp <= 0x137) || (cp >= 0x14A && cp <= 0x177))
    return cp | 1;
  if ((cp >= 0x139 && cp <= 0x148) || (cp >= 0x179 && cp <= 0x17E))
    return (cp & 1) ? cp + 1 : cp;
  return cp;
}

bool is_space(uint32_t cp) {
  return cp == ' ' || (cp >= 0x09 && cp <= 0x0D) || cp == 0xA0 || cp == 0x85 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F ||
         cp == 0x3000;
}

bool is_control(uint32_t cp) { return cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F); }

/// Letters and digits; outside ASCII everything but spaces, controls and punctuation blocks.
bool is_word(uint32_t cp) {
  if (cp < 0x80)
    return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || (cp >= '0' && cp <= '9');
  if (is_space(cp) || is_control(cp))
    return false;
  if ((cp >= 0xA1 && cp <= 0xBF) || cp == 0xD7 || cp == 0xF7)
    return false; // Latin-1 punctuation and symbols
  if ((cp >= 0x2000 && cp <= 0x2BFF) || (cp >= 0x3000 && cp <= 0x303F) || (cp >= 0xFE30 && cp <= 0xFE4F) ||
      (cp >= 0xFF00 && cp <= 0xFF0F))
    return false; // general punctuation, symbols, arrows, CJK punctuation
  return true;
}

/// ASCII letters and digits, as a table: tokenising is the hottest loop of text processing.
constexpr auto ascii_word_table = [] {
  std::array<bool, 128> t{};
  for (int c = 0; c < 128; ++c)
    t[c] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  return t;
}();

} // namespace

size_t find_invalid_utf8(std::string_view s) {
  size_t i = 0, n = s.size();
  while (i < n) {
    auto c = uint8_t(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    int len;
    uint32_t min;
    if (c >= 0xC2 && c <= 0xDF)
      len = 2, min = 0x80;
    else if (c >= 0xE0 && c <= 0xEF)
      len = 3, min = 0x800;
    else if (c >= 0xF0 && c <= 0xF4)
      len = 4, min = 0x10000;
    else
      return i;
    if (i + len > n)
      return i;
    uint32_t cp = c & (0x3F >> (len - 1));
    for (int k = 1; k < len; ++k) {
      auto cc = uint8_t(s[i + k]);
      if ((cc & 0xC0) != 0x80)
        return i;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
      return i;
    i += len;
  }
  return SIZE_MAX;
}

std::string normalize_text(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  bool pending_space = false;
  for (size_t i = 0; i < text.size();) {
    auto c = uint8_t(text[i]);
    uint32_t cp = c < 0x80 ? (++i, c) : decode(text, i);
    if (is_space(cp)) {
      pending_space = !out.empty();
      continue;
    }
    if (is_control(cp))
      continue;
    if (pending_space) {
      out.push_back(' ');
      pending_space = false;
    }
    if (cp < 0x80)
      out.push_back(char(cp >= 'A' && cp <= 'Z' ? cp + 32 : cp));
    else
      encode(to_lower(cp), out);
  }
  return out;
}

void tokenize(std::string_view text, std::vector<token_span>& out) {
  out.clear();
  const size_t n = text.size();
  const char* p = text.data();
  size_t i = 0;
  // Is the character at i a word character? Advances i past it.
  auto next_is_word = [&]() {
    auto c = uint8_t(p[i]);
    if (c < 0x80) {
      ++i;
      return ascii_word_table[c];
    }
    return is_word(decode(text, i));
  };
  while (i < n) {
    size_t start = i;
    if (!next_is_word())
      continue;
    size_t end = i;
    while (i < n) {
      size_t at = i;
      if (!next_is_word()) {
        end = at;
        break;
      }
      end = i;
    }
    out.push_back({uint32_t(start), uint32_t(end)});
  }
}

void lowercase_into(std::string_view token, std::string& out) {
  out.clear();
  for (size_t i = 0; i < token.size();) {
    auto c = uint8_t(token[i]);
    if (c < 0x80) {
      out.push_back(char(c >= 'A' && c <= 'Z' ? c + 32 : c));
      ++i;
    } else {
      encode(to_lower(decode(token, i)), out);
    }
  }
}

std::vector<std::pair<std::string, uint32_t>> top_terms(std::string_view text, const std::vector<token_span>& tokens,
                                                        size_t n) {
  if (n == 0 || tokens.empty())
    return {};
  // Distinct lowercase terms, their bytes back to back in `bytes`, found through an
  // open-addressing table: no allocation per token.
  struct term {
    uint32_t offset, size, count;
    uint64_t hash;
  };
  thread_local std::string bytes, lower;
  thread_local std::vector<term> terms;
  thread_local std::vector<uint32_t> slots;
  bytes.clear();
  terms.clear();
  size_t capacity = 64;
  while (capacity < tokens.size() * 2)
    capacity *= 2;
  slots.assign(capacity, UINT32_MAX);
  size_t mask = capacity - 1;
  for (auto& t : tokens) {
    lowercase_into(text.substr(t.begin, t.end - t.begin), lower);
    uint64_t h = fnv1a(lower);
    for (size_t i = (h ^ (h >> 32)) & mask;; i = (i + 1) & mask) {
      uint32_t slot = slots[i];
      if (slot == UINT32_MAX) {
        slots[i] = uint32_t(terms.size());
        terms.push_back({uint32_t(bytes.size()), uint32_t(lower.size()), 1, h});
        bytes += lower;
        break;
      }
      auto& candidate = terms[slot];
      if (candidate.hash == h && std::string_view(bytes).substr(candidate.offset, candidate.size) == lower) {
        ++candidate.count;
        break;
      }
    }
  }
  auto word = [](const term& x) { return std::string_view(bytes).substr(x.offset, x.size); };
  auto order = [&](const term& a, const term& b) { return a.count != b.count ? a.count > b.count : word(a) < word(b); };
  size_t keep = std::min(n, terms.size());
  std::partial_sort(terms.begin(), terms.begin() + keep, terms.end(), order);
  std::vector<std::pair<std::string, uint32_t>> out;
  out.reserve(keep);
  for (size_t i = 0; i < keep; ++i)
    out.emplace_back(std::string(word(terms[i])), terms[i].count);
  return out;
}

std::vector<text_chunk> chunk_tokens(const std::vector<token_span>& tokens, uint32_t size, uint32_t overlap) {
  std::vector<text_chunk> out;
  if (size == 0 || overlap >= size)
    return out;
  uint32_t step = size - overlap;
  for (size_t first = 0; first < tokens.size(); first += step) {
    size_t last = std::min(tokens.size(), first + size) - 1;
    out.push_back({tokens[first].begin, tokens[last].end, uint32_t(last - first + 1)});
    if (last + 1 == tokens.size())
      break;
  }
  return out;
}

std::string process_document(std::string_view text, uint32_t chunk_size, uint32_t overlap, size_t top_n,
                             document_summary& out) {
  if (text.size() > max_document_bytes)
    return "document is " + std::to_string(text.size()) + " bytes, over the limit of "
           + std::to_string(max_document_bytes) + " bytes";
  if (chunk_size == 0)
    return "chunk size must be at least 1";
  if (overlap >= chunk_size)
    return "chunk overlap " + std::to_string(overlap) + " must be smaller than the chunk size "
           + std::to_string(chunk_size);
  if (auto bad = find_invalid_utf8(text); bad != SIZE_MAX)
    return "invalid UTF-8 at byte " + std::to_string(bad);
  thread_local std::vector<token_span> tokens;
  tokenize(text, tokens);
  out.words = tokens.size();
  out.top = top_terms(text, tokens, top_n);
  out.chunks = chunk_tokens(tokens, chunk_size, overlap);
  return {};
}

} // namespace p2p
