#pragma once

#include <atomic>
#include <cstdint>
#include <limits>
#include <mutex>
#include <optional>
#include <string>

namespace bench {

// What all workers of one phase share: the job budget, the time limits, the end-to-end delivery
// count, and the first failure. Everything is thread-safe; in a single-threaded run the atomics
// are uncontended and cheap.
class RunState {
 public:
  static constexpr std::int64_t kNoLimit = std::numeric_limits<std::int64_t>::max();

  // job_limit: jobs the phase may start. stop_issuing_ns: no new jobs after this time (duration
  // mode). hard_deadline_ns: the phase fails if it is still running then.
  RunState(std::int64_t job_limit, std::int64_t stop_issuing_ns, std::int64_t hard_deadline_ns)
      : job_limit_(job_limit),
        stop_issuing_ns_(stop_issuing_ns),
        hard_deadline_ns_(hard_deadline_ns) {}

  // Claims one job for a session to start. False once the budget or the duration is used up.
  bool claim_job(std::int64_t now_ns) {
    if (now_ns >= stop_issuing_ns_) return false;
    return claimed_.fetch_add(1, std::memory_order_relaxed) < job_limit_;
  }
  bool issuing_over(std::int64_t now_ns) const { return now_ns >= stop_issuing_ns_; }
  std::int64_t jobs_claimed() const {
    const std::int64_t claimed = claimed_.load();
    return claimed < job_limit_ ? claimed : job_limit_;
  }

  // End-to-end scenarios (deliver, spray) finish when every producer has sent its last job and
  // consumers have received as many jobs as were claimed.
  void add_producer() { producers_.fetch_add(1); }
  void producer_done() {
    producers_.fetch_sub(1);
    check_all_delivered();
  }
  void job_delivered() {
    delivered_.fetch_add(1);
    check_all_delivered();
  }
  // Jobs claimed by producers and not yet received by a consumer.
  std::int64_t undelivered() const { return jobs_claimed() - delivered_.load(); }

  // Records the first failure and stops the phase.
  void fail(std::string message) {
    {
      std::lock_guard lock(mutex_);
      if (!failure_) failure_ = std::move(message);
    }
    stopped_.store(true);
  }
  std::optional<std::string> failure() const {
    std::lock_guard lock(mutex_);
    return failure_;
  }

  bool stopped() const { return stopped_.load(std::memory_order_relaxed); }
  std::int64_t hard_deadline_ns() const { return hard_deadline_ns_; }

 private:
  // Both sides re-check after their own update, so whichever comes last sees the finished state.
  void check_all_delivered() {
    if (producers_.load() == 0 && delivered_.load() >= jobs_claimed()) stopped_.store(true);
  }

  const std::int64_t job_limit_;
  const std::int64_t stop_issuing_ns_;
  const std::int64_t hard_deadline_ns_;
  std::atomic<std::int64_t> claimed_{0};
  std::atomic<int> producers_{0};
  std::atomic<std::int64_t> delivered_{0};
  std::atomic<bool> stopped_{false};
  mutable std::mutex mutex_;
  std::optional<std::string> failure_;
};

}  // namespace bench
