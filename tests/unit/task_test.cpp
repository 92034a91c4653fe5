#include <doctest/doctest.h>

#include "tasks/task.hpp"
#include "tasks/task_kernels.hpp"
#include "text/embedder.hpp"

#include <charconv>
#include <cstring>

using namespace p2p;

TEST_CASE("the task state machine allows only its transitions and never leaves a final state") {
  task_record t;
  CHECK_FALSE(transition(t, task_state::completed, 1)); // queued cannot complete without running
  REQUIRE(transition(t, task_state::running, 10));
  CHECK(t.attempts == 1);
  CHECK(t.started_ms == 10);
  REQUIRE(transition(t, task_state::queued, 11)); // a retry
  REQUIRE(transition(t, task_state::running, 12));
  CHECK(t.attempts == 2);
  REQUIRE(transition(t, task_state::completed, 20));
  CHECK(t.result_writes == 1);
  CHECK(t.finished_ms == 20);
  for (auto to : {task_state::queued, task_state::running, task_state::completed, task_state::failed,
                  task_state::cancelled, task_state::timed_out})
    CHECK_FALSE(transition(t, to, 30));
  CHECK(t.result_writes == 1); // a result is recorded once
  CHECK(t.state == task_state::completed);

  task_record q;
  CHECK(transition(q, task_state::cancelled, 1)); // a queued task can be cancelled
  CHECK(is_final(q.state));
  task_record r;
  REQUIRE(transition(r, task_state::running, 1));
  CHECK(can_transition(task_state::running, task_state::timed_out));
  CHECK(can_transition(task_state::running, task_state::failed));
  CHECK(can_transition(task_state::running, task_state::cancelled));
  CHECK_FALSE(can_transition(task_state::queued, task_state::timed_out));
}

TEST_CASE("task records round-trip through their encoding and corrupt bytes are refused") {
  task_record t;
  t.id = 123456789012ull;
  t.type = "text_processing";
  t.params = "200 20 10";
  t.payload = std::string("text with \0 inside", 17);
  t.priority = task_priority::critical;
  t.timeout_ms = 1500;
  t.max_retries = 2;
  t.state = task_state::failed;
  t.attempts = 3;
  t.created_ms = 1, t.started_ms = 2, t.finished_ms = 3;
  t.error = "invalid UTF-8 at byte 4";
  auto bytes = encode(t);
  task_record back;
  REQUIRE(decode(bytes, back));
  CHECK(back.id == t.id);
  CHECK(back.payload.empty()); // written once under its own key, not with every state change
  CHECK(bytes.find("inside") == std::string::npos);
  CHECK(back.priority == task_priority::critical);
  CHECK(back.state == task_state::failed);
  CHECK(back.attempts == 3);
  CHECK(back.error == t.error);
  CHECK_FALSE(decode(bytes.substr(0, bytes.size() - 1), back));
  CHECK_FALSE(decode(bytes + "x", back));
  CHECK(task_key(1) < task_key(256)); // keys sort by id, each payload right after its record
  CHECK(task_key(1) < payload_key(1));
  CHECK(payload_key(1) < task_key(2));
  uint64_t id = 0;
  bool is_payload = false;
  REQUIRE(parse_task_key(payload_key(77), id, is_payload));
  CHECK(id == 77);
  CHECK(is_payload);
}

TEST_CASE("task kernels run text processing and embedding and name what they cannot do") {
  std::string result;
  REQUIRE(run_task_kernel("text_processing", "2 0 1", "Alpha beta alpha", result).empty());
  CHECK(result == R"({"words": 3, "top_terms": [["alpha", 2]], "chunks": [[0, 10], [11, 16]]})");
  // An embedding's result is its floats as raw bytes, the embedder's own vector.
  REQUIRE(run_task_kernel("embedding", "8", "alpha beta", result).empty());
  CHECK(result.size() == 8 * sizeof(float));
  std::vector<float> got, expected(8);
  REQUIRE(embedding_floats(result, got));
  hashing_embedder(8).embed("alpha beta", expected.data());
  CHECK(got == expected);
  double norm = 0;
  for (float x : got)
    norm += double(x) * x;
  CHECK(norm == doctest::Approx(1.0).epsilon(1e-5)); // L2-normalised
  CHECK_FALSE(embedding_floats("abc", got));         // not a whole number of floats
  CHECK_FALSE(embedding_floats("", got));
  CHECK(run_task_kernel("embedding", "0", "a", result).find("bad embedding params") == 0);
  CHECK(run_task_kernel("text_processing", "", "bad \xFF", result) == "invalid UTF-8 at byte 4");
  CHECK(run_task_kernel("text_processing", "x", "a", result).find("bad text_processing params") == 0);
  CHECK(run_task_kernel("translate", "", "a", result) == "no task kernel for type 'translate'");
  CHECK(parse_priority("high") == task_priority::high);
  CHECK_FALSE(parse_priority("urgent"));
}

TEST_CASE("floats as JSON read back as the same floats, in the shortest text") {
  std::vector<float> v{0.1f, -1.5f, 3.0e-7f, 123456.789f, 0.0f, -0.0f, 1.17549435e-38f, 3.40282347e+38f};
  std::string out;
  append_floats_json(out, v.data(), v.size());
  CHECK(out.front() == '[');
  CHECK(out.back() == ']');
  CHECK(out.find("0.1, -1.5, ") == 1); // shortest text, not 0.100000001
  std::vector<float> back;
  for (size_t at = 1; at < out.size();) {
    float x = 0;
    auto [end, ec] = std::from_chars(out.data() + at, out.data() + out.size(), x);
    REQUIRE(ec == std::errc{});
    back.push_back(x);
    at = size_t(end - out.data()) + 2; // past ", " (or the closing bracket)
  }
  REQUIRE(back.size() == v.size());
  for (size_t i = 0; i < v.size(); ++i)
    CHECK(std::memcmp(&back[i], &v[i], sizeof(float)) == 0); // bit for bit, -0 included
  out.clear();
  append_floats_json(out, v.data(), 0);
  CHECK(out == "[]");
}
