#include "tasks/task_kernels.hpp"

#include <charconv>
#include <cstring>
#include <sstream>
#include <vector>

#include "text/document_reader.hpp"
#include "text/embedder.hpp"
#include "text/text_kernels.hpp"

namespace p2p {

bool has_task_kernel(std::string_view type) { return type == "text_processing" || type == "embedding"; }

std::string summary_json(const document_summary& s) {
  std::string out = "{\"words\": " + std::to_string(s.words) + ", \"top_terms\": [";
  for (size_t i = 0; i < s.top.size(); ++i)
    out += (i ? ", [\"" : "[\"") + json_escape(s.top[i].first) + "\", " + std::to_string(s.top[i].second) + "]";
  out += "], \"chunks\": [";
  for (size_t i = 0; i < s.chunks.size(); ++i)
    out += (i ? ", [" : "[") + std::to_string(s.chunks[i].begin) + ", " + std::to_string(s.chunks[i].end) + "]";
  out += "]}";
  return out;
}

std::string run_task_kernel(std::string_view type, std::string_view params, std::string_view payload,
                            std::string& result) {
  std::istringstream in{std::string(params)};
  if (type == "text_processing") {
    uint32_t chunk_size = 200, overlap = 20, top_n = 10;
    if (!params.empty() && !(in >> chunk_size >> overlap >> top_n))
      return "bad text_processing params '" + std::string(params) + "' (expected CHUNK_SIZE OVERLAP TOP_N)";
    document_summary s;
    if (auto error = process_document(payload, chunk_size, overlap, top_n, s); !error.empty())
      return error;
    result = summary_json(s);
    return {};
  }
  if (type == "embedding") {
    uint32_t dim = 512;
    if (!params.empty() && (!(in >> dim) || dim == 0 || dim > 65536))
      return "bad embedding params '" + std::string(params) + "' (expected DIM from 1 to 65536)";
    if (auto bad = find_invalid_utf8(payload); bad != SIZE_MAX)
      return "invalid UTF-8 at byte " + std::to_string(bad);
    result.assign(size_t(dim) * sizeof(float), '\0');
    hashing_embedder(dim).embed(payload, reinterpret_cast<float*>(result.data()));
    return {};
  }
  return "no task kernel for type '" + std::string(type) + "'";
}

bool embedding_floats(std::string_view result, std::vector<float>& out) {
  if (result.empty() || result.size() % sizeof(float) != 0)
    return false;
  out.resize(result.size() / sizeof(float));
  std::memcpy(out.data(), result.data(), result.size());
  return true;
}

void append_floats_json(std::string& out, const float* v, size_t n) {
  char buf[32];
  out += '[';
  for (size_t i = 0; i < n; ++i) {
    if (i)
      out += ", ";
    // The shortest text that reads back as the same float (Ryu in libstdc++): 3-6x faster than
    // printf("%.9g") and shorter.
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v[i]);
    out.append(buf, ec == std::errc{} ? end : buf);
  }
  out += ']';
}

} // namespace p2p
