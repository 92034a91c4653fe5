#pragma once
// What a task worker runs for each task type. Plain C++ over the text kernels and the embedder.

#include <string>
#include <string_view>
#include <vector>

namespace p2p {

/// Task types with a kernel: "text_processing" and "embedding".
[[nodiscard]] bool has_task_kernel(std::string_view type);

/// Runs the kernel of `type` on `payload` (a document's text). text_processing params are
/// "CHUNK_SIZE OVERLAP TOP_N"; embedding params are "DIM". Fills `result` and returns "" on
/// success, else the reason it failed. A text_processing result is JSON (summary_json); an
/// embedding result is the vector itself, DIM floats as raw bytes (float32 in the host's layout,
/// as vectors travel between nodes), 2 KB for 512-d. As JSON text it was ~6 KB and formatting it
/// took a third of a node's CPU in the embedding bench (perf/README "Embeddings as floats").
[[nodiscard]] std::string run_task_kernel(std::string_view type, std::string_view params, std::string_view payload,
                                          std::string& result);

/// The JSON of text processing for one document: {"words": N, "top_terms": [[T, N], ...], "chunks": [[B, E], ...]}.
struct document_summary;
[[nodiscard]] std::string summary_json(const document_summary& s);

/// The floats of an embedding task's result; false when it is not a whole, non-empty number of them.
[[nodiscard]] bool embedding_floats(std::string_view result, std::vector<float>& out);

/// Appends `[f, f, ...]`, each float as the shortest text that reads back as the same float.
void append_floats_json(std::string& out, const float* v, size_t n);

} // namespace p2p
