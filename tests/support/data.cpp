#include "tests/support/data.hpp"

#include <filesystem>

namespace p2p::test {

std::string fresh_dir(const std::string& name) {
  auto dir = std::filesystem::path(P2P_TEST_TMP) / name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

} // namespace p2p::test
