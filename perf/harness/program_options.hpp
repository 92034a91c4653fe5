#pragma once
// Command-line parsing shared by the benchmark programs in perf/: one place that turns a bad
// option into exit 2 with the program's name, and --help into the options and exit 0.

#include <iostream>
#include <optional>

#include <boost/program_options.hpp>

namespace p2p::bench {

/// Parses argv into `vm`; an exit status when the program should stop now (0 after --help,
/// 2 after a bad option), nothing when it should go on.
inline std::optional<int> parse_program_options(const char* program, int argc, char** argv,
                                                const boost::program_options::options_description& desc,
                                                boost::program_options::variables_map& vm) {
  namespace po = boost::program_options;
  try {
    po::store(po::parse_command_line(argc, argv, desc), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << program << ": " << e.what() << "\n";
    return 2;
  }
  if (vm.count("help")) {
    std::cout << desc << "\n";
    return 0;
  }
  return std::nullopt;
}

} // namespace p2p::bench
