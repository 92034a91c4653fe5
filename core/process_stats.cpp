#include "core/process_stats.hpp"

#include <fstream>

#include <unistd.h>

namespace p2p {

uint64_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  uint64_t size = 0, resident = 0;
  if (!(statm >> size >> resident))
    return 0;
  return resident * uint64_t(sysconf(_SC_PAGESIZE));
}

} // namespace p2p
