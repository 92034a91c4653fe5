#pragma once
// Text processing kernels (no CAF, no storage): UTF-8 validation, normalisation, tokenising with
// byte offsets into the original text, word counts, top terms and chunking by tokens.

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace p2p {

/// Byte offset of the first invalid UTF-8 sequence, or SIZE_MAX when `text` is valid.
[[nodiscard]] size_t find_invalid_utf8(std::string_view text);

/// Lowercase (ASCII, Latin-1, Latin Extended-A, Greek, Cyrillic), control characters stripped,
/// every run of whitespace folded into one space, no leading or trailing space. `text` must be
/// valid UTF-8.
[[nodiscard]] std::string normalize_text(std::string_view text);

/// A token: bytes [begin, end) of the text it was found in.
struct token_span {
  uint32_t begin;
  uint32_t end;
};

/// Words of `text`: maximal runs of letters and digits (any non-ASCII letter counts), with
/// their byte offsets. `text` must be valid UTF-8.
void tokenize(std::string_view text, std::vector<token_span>& out);

/// The lowercase form of one token (see normalize_text).
void lowercase_into(std::string_view token, std::string& out);

/// The `n` most frequent lowercase terms, most frequent first, ties in byte order.
[[nodiscard]] std::vector<std::pair<std::string, uint32_t>> top_terms(std::string_view text,
                                                                      const std::vector<token_span>& tokens, size_t n);

/// A chunk: `tokens` tokens of the original text, covering bytes [begin, end).
struct text_chunk {
  uint32_t begin;
  uint32_t end;
  uint32_t tokens;
};

/// Chunks of `size` tokens, each starting `size - overlap` tokens after the previous one; the
/// last chunk may be shorter. Requires size > 0 and overlap < size.
[[nodiscard]] std::vector<text_chunk> chunk_tokens(const std::vector<token_span>& tokens, uint32_t size,
                                                   uint32_t overlap);

/// Everything text processing computes for one document.
struct document_summary {
  uint64_t words = 0;
  std::vector<std::pair<std::string, uint32_t>> top;
  std::vector<text_chunk> chunks;
};

/// Checks and processes one document; returns an error naming the cause, or "" on success.
[[nodiscard]] std::string process_document(std::string_view text, uint32_t chunk_size, uint32_t overlap,
                                           size_t top_n, document_summary& out);

/// Largest document text accepted, in bytes.
constexpr size_t max_document_bytes = 16u << 20;

} // namespace p2p
