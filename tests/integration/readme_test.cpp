// The README's example block, run as written: a newcomer's first commands must all work.

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/support/data.hpp"
#include "tests/support/process.hpp"

using namespace p2p::test;

TEST_CASE("the README's example block runs as written, every command exiting 0") {
  std::ifstream in(std::string(P2P_SOURCE_DIR) + "/README.md");
  REQUIRE(in);
  std::stringstream text;
  text << in.rdbuf();
  auto readme = text.str();
  auto start = readme.find("```sh\nbuild/p2p-agent sample");
  REQUIRE_MESSAGE(start != std::string::npos, "README.md has no example block starting with build/p2p-agent sample");
  start += 6;
  auto end = readme.find("```", start);
  REQUIRE(end != std::string::npos);
  auto block = readme.substr(start, end - start);

  // A fresh directory that looks like a checkout: this build and the repository's files.
  auto dir = fresh_dir("readme");
  namespace fs = std::filesystem;
  fs::create_directory_symlink(fs::path(P2P_AGENT_BIN).parent_path(), dir + "/build");
  for (auto sub : {"scripts", "config", "examples", "perf"})
    fs::create_directory_symlink(std::string(P2P_SOURCE_DIR) + "/" + sub, dir + "/" + sub);
  // On a failure, the node and the cluster the block started are stopped all the same.
  std::ofstream(dir + "/example.sh") << "set -e -o pipefail\n"
                                     << "trap 'set +e; kill $(jobs -p) 2> /dev/null; scripts/cluster.sh down > /dev/null 2>&1; true' EXIT\n"
                                     << block;
  auto r = run_program({"/bin/bash", "-c", "cd '" + dir + "' && exec bash example.sh"}, dir, 600);
  INFO("stdout:\n" << r.out << "\nstderr:\n" << r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("stored 10000 vectors in 'default'") != std::string::npos);
  CHECK(r.out.find("vectors in 'embedded'") != std::string::npos); // embed | put --input -
  CHECK(r.out.find("\"metadata\": {\"lang\":\"en\",\"year\":2024}") != std::string::npos); // the curl search
  CHECK(r.out.find("cluster up: 3 nodes") != std::string::npos);
  CHECK(fs::exists(dir + "/backup-1/CURRENT"));
  CHECK(fs::exists(dir + "/smoke.json"));
}
