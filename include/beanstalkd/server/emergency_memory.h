// Memory set aside at the start for the moment the system has none left.
// Running out usually happens on a put; what it takes to drain the server
// then (a worker's first reserve, a timer slot, a reply buffer) needs a
// little memory too, and without this there would be none: workers would be
// refused along with producers, and nothing could free anything. So the
// first refusal gives this back to the system for the drain to use, and
// puts are refused until it can be set aside again, so that new jobs cannot
// take what the drain needs.
#pragma once

#include <cstddef>

namespace beanstalkd::server {

class EmergencyMemory {
 public:
  static constexpr std::size_t kDefaultBytes = std::size_t{2} << 20;

  explicit EmergencyMemory(std::size_t bytes = kDefaultBytes);
  ~EmergencyMemory();
  EmergencyMemory(const EmergencyMemory&) = delete;
  EmergencyMemory& operator=(const EmergencyMemory&) = delete;

  bool held() const { return memory_ != nullptr; }
  // Gives it back to the system; false if it was not held.
  bool release();
  // Sets it aside again if it is not held, and only if the system could
  // give as much again besides, so that puts do not take it back at once;
  // false if it cannot yet.
  bool hold();

 private:
  static void* map(std::size_t bytes);

  std::size_t bytes_;
  void* memory_ = nullptr;
};

}  // namespace beanstalkd::server
