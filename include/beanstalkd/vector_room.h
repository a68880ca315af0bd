// Making room in a std::vector ahead of a push, so that the push cannot
// fail: what lets an operation allocate everything before it changes
// anything (see Store::make_room_for_put).
#pragma once

#include <algorithm>
#include <cstddef>

namespace beanstalkd {

// Makes room in `v` for `n` elements, growing by doubling as push_back
// would. Throws std::bad_alloc with `v` unchanged.
template <typename Vector>
void make_room(Vector& v, std::size_t n) {
  if (n > v.capacity()) v.reserve(std::max(n, 2 * v.capacity()));
}

}  // namespace beanstalkd
