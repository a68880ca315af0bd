#include "bench_error.h"

#include <cerrno>
#include <cstring>

namespace bench {

std::string errno_message(const char* what) {
  return std::string(what) + ": " + std::strerror(errno);
}

}  // namespace bench
