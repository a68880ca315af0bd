#pragma once

#include <cstddef>

namespace bench {

// Raises the soft limit on open files as far as the hard limit allows (the connections and spray
// scenarios need thousands) and returns the limit now in force.
std::size_t raise_fd_limit();

}  // namespace bench
