// When a run of failed retries deserves a log line, and what it counts.
#include "beanstalkd/failure_episode.h"

#include <gtest/gtest.h>

namespace beanstalkd {
namespace {

using Report = FailureEpisode::Report;
constexpr Nanos kSecond = kNanosPerSecond;

TEST(FailureEpisode, StartsOnceThenRemindsEveryMinuteAndOnAChange) {
  FailureEpisode e;
  EXPECT_FALSE(e.active());
  const Nanos t0 = 1000 * kSecond;
  EXPECT_EQ(e.failed(t0), Report::Start);
  EXPECT_TRUE(e.active());
  EXPECT_EQ(e.retries(), 0u);
  for (int s = 1; s < 60; ++s) EXPECT_EQ(e.failed(t0 + s * kSecond), Report::Quiet) << s;
  EXPECT_EQ(e.failed(t0 + 60 * kSecond), Report::Reminder);
  EXPECT_EQ(e.retries(), 60u);
  EXPECT_EQ(e.lasted(t0 + 60 * kSecond), 60 * kSecond);
  EXPECT_EQ(e.failed(t0 + 61 * kSecond), Report::Quiet);
  // A different failure is news at once, and restarts the minute.
  EXPECT_EQ(e.failed(t0 + 62 * kSecond, /*changed=*/true), Report::Reminder);
  EXPECT_EQ(e.failed(t0 + 121 * kSecond), Report::Quiet);
  EXPECT_EQ(e.failed(t0 + 122 * kSecond), Report::Reminder);
}

TEST(FailureEpisode, TheSucceedingAttemptCountsAndEndsIt) {
  FailureEpisode e;
  const Nanos t0 = 1000 * kSecond;
  e.failed(t0);
  e.failed(t0 + kSecond);
  EXPECT_EQ(e.end(t0 + 2 * kSecond), 2 * kSecond);
  EXPECT_EQ(e.retries(), 2u);
  EXPECT_FALSE(e.active());
  // The next failure starts a new episode from zero.
  EXPECT_EQ(e.failed(t0 + 10 * kSecond), Report::Start);
  EXPECT_EQ(e.retries(), 0u);
  EXPECT_EQ(e.lasted(t0 + 11 * kSecond), kSecond);
}

}  // namespace
}  // namespace beanstalkd
