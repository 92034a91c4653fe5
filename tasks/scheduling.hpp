#pragma once
// Where a task runs: the choice among executors (local workers and peers), as pure logic.

#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace p2p {

/// What the scheduler knows of one executor: work in flight, its room, the task types it runs.
struct executor_slot {
  size_t load = 0;     // work sent and not answered, in the caller's units (e.g. tasks)
  size_t capacity = 0; // the most work in flight at once (one more piece may pass it)
  std::vector<std::string> capabilities;

  [[nodiscard]] bool can_run(std::string_view type) const {
    return std::find(capabilities.begin(), capabilities.end(), type) != capabilities.end();
  }
  [[nodiscard]] bool has_room() const { return load < capacity; }
};

/// The key of the least filled executor (load / capacity) that runs `type` and has room, or
/// null when none does. `executors` maps keys to executor_slot or a type derived from it; on a
/// tie the first in the map's order wins.
template <class Map>
[[nodiscard]] const typename Map::key_type* least_loaded(const Map& executors, std::string_view type) {
  const typename Map::key_type* best = nullptr;
  double best_fill = 1.0;
  for (auto& [key, e] : executors) {
    const executor_slot& slot = e;
    if (!slot.has_room() || !slot.can_run(type))
      continue;
    double fill = double(slot.load) / double(slot.capacity);
    if (!best || fill < best_fill) {
      best = &key;
      best_fill = fill;
    }
  }
  return best;
}

} // namespace p2p
