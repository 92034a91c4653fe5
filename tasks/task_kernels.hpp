#pragma once
// What a task worker runs for each task type. Plain C++ over the text kernels and the embedder.

#include <string>
#include <string_view>

namespace p2p {

/// Task types with a kernel: "text_processing" and "embedding".
[[nodiscard]] bool has_task_kernel(std::string_view type);

/// Runs the kernel of `type` on `payload` (a document's text). text_processing params are
/// "CHUNK_SIZE OVERLAP TOP_N"; embedding params are "DIM". Fills `result` (JSON) and returns ""
/// on success, else the reason it failed.
[[nodiscard]] std::string run_task_kernel(std::string_view type, std::string_view params, std::string_view payload,
                                          std::string& result);

/// The JSON of text processing for one document: {"words": N, "top_terms": [[T, N], ...], "chunks": [[B, E], ...]}.
struct document_summary;
[[nodiscard]] std::string summary_json(const document_summary& s);

} // namespace p2p
