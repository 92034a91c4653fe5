#pragma once
// The collections column family: name -> dimension and metric. Written and read here only.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "core/status.hpp"
#include "vectors/metric.hpp"

namespace p2p {

class database;

struct collection_record {
  std::string name;
  uint32_t dim = 0;
  metric_kind metric = metric_kind::cosine;
};

class collection_catalog {
public:
  explicit collection_catalog(std::shared_ptr<database> db);

  /// Records (or overwrites) a collection.
  status put(const collection_record& c);

  /// Forgets a collection.
  status erase(const std::string& name);

  /// Calls `fn` with every stored collection, by name; returns the number of unreadable records.
  size_t load(const std::function<void(collection_record&&)>& fn) const;

private:
  std::shared_ptr<database> db_;
};

} // namespace p2p
