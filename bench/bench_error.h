#pragma once

#include <stdexcept>
#include <string>

namespace bench {

// A failure that ends the benchmark: a bad argument, an unreachable server, a reply the scenario
// did not expect, the hard timeout. main() prints the message and exits non-zero.
class BenchError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// "what: strerror(errno)", for system call failures.
std::string errno_message(const char* what);

}  // namespace bench
