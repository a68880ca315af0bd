#include "beanstalkd/server/idle_poll.h"

#include <algorithm>

namespace beanstalkd::server {

void IdlePoll::blocked_for(Nanos blocked) {
  if (max_window_ <= 0) return;
  if (blocked <= max_window_) {
    // Polling long enough would have caught this event without sleeping.
    if (blocked > window_) window_ = std::min(max_window_, std::max(kStartWindow, window_ * 2));
  } else {
    // The wait was longer than we are ever willing to poll.
    window_ /= 2;
    if (window_ < kStartWindow) window_ = 0;
  }
}

void IdlePoll::record_turn(Nanos idle, Nanos total) {
  if (max_window_ <= 0 || total <= 0) return;
  idle = std::clamp<Nanos>(idle, 0, total);
  double busy = static_cast<double>(total - idle) / static_cast<double>(total);
  // An exponential average weighted by time: a turn counts in proportion
  // to its length, so one long idle wait outweighs many short busy turns.
  double weight = static_cast<double>(total) / static_cast<double>(total + kLoadTimeConstant);
  load_ += (busy - load_) * weight;
}

}  // namespace beanstalkd::server
