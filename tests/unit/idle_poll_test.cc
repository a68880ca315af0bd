#include "beanstalkd/server/idle_poll.h"

#include <gtest/gtest.h>

namespace beanstalkd::server {
namespace {

constexpr Nanos kMicro = 1000;

// Fifty milliseconds of turns that work 90% of the time.
void make_busy(IdlePoll& poll) {
  for (int i = 0; i < 5000; ++i) poll.record_turn(1 * kMicro, 10 * kMicro);
}

TEST(IdlePollTest, DisabledNeverPolls) {
  IdlePoll poll(0);
  make_busy(poll);
  for (int i = 0; i < 10; ++i) poll.blocked_for(1 * kMicro);
  EXPECT_EQ(poll.window(), 0);
}

TEST(IdlePollTest, StartsWithoutPolling) {
  IdlePoll poll(50 * kMicro);
  EXPECT_EQ(poll.window(), 0);
}

TEST(IdlePollTest, ShortWaitsGrowTheWindowUpToTheMaximum) {
  IdlePoll poll(50 * kMicro);
  make_busy(poll);
  poll.blocked_for(5 * kMicro);
  EXPECT_EQ(poll.window(), IdlePoll::kStartWindow);
  poll.blocked_for(15 * kMicro);
  EXPECT_EQ(poll.window(), 20 * kMicro);
  poll.blocked_for(30 * kMicro);
  EXPECT_EQ(poll.window(), 40 * kMicro);
  poll.blocked_for(45 * kMicro);
  EXPECT_EQ(poll.window(), 50 * kMicro);
  poll.blocked_for(50 * kMicro);
  EXPECT_EQ(poll.window(), 50 * kMicro);
}

TEST(IdlePollTest, AWaitTheWindowWouldHaveCaughtLeavesItAlone) {
  IdlePoll poll(50 * kMicro);
  make_busy(poll);
  poll.blocked_for(5 * kMicro);
  poll.blocked_for(15 * kMicro);
  ASSERT_EQ(poll.window(), 20 * kMicro);
  // Shorter than the window: polling was not the problem; no growth.
  poll.blocked_for(3 * kMicro);
  EXPECT_EQ(poll.window(), 20 * kMicro);
}

TEST(IdlePollTest, LongWaitsShrinkTheWindowToZero) {
  IdlePoll poll(50 * kMicro);
  make_busy(poll);
  for (int i = 0; i < 5; ++i) poll.blocked_for(49 * kMicro);
  ASSERT_EQ(poll.window(), 50 * kMicro);
  poll.blocked_for(1000 * kMicro);
  EXPECT_EQ(poll.window(), 25 * kMicro);
  poll.blocked_for(1000 * kMicro);
  EXPECT_EQ(poll.window(), 12500);
  poll.blocked_for(1000 * kMicro);
  EXPECT_EQ(poll.window(), 0);  // below the start window: off
  poll.blocked_for(1000 * kMicro);
  EXPECT_EQ(poll.window(), 0);
}

TEST(IdlePollTest, AMostlyIdleLoopDoesNotPoll) {
  IdlePoll poll(50 * kMicro);
  make_busy(poll);
  poll.blocked_for(5 * kMicro);
  ASSERT_EQ(poll.window(), IdlePoll::kStartWindow);
  // Turns that wait 90% of the time: the load falls below half...
  for (int i = 0; i < 1000; ++i) poll.record_turn(9 * kMicro, 10 * kMicro);
  EXPECT_LT(poll.load(), IdlePoll::kMinLoad);
  EXPECT_EQ(poll.window(), 0);
  // ...and polling resumes when it rises again.
  make_busy(poll);
  EXPECT_GE(poll.load(), IdlePoll::kMinLoad);
  EXPECT_EQ(poll.window(), IdlePoll::kStartWindow);
}

TEST(IdlePollTest, LoadWeighsTurnsByTheirLength) {
  IdlePoll poll(50 * kMicro);
  make_busy(poll);
  ASSERT_GT(poll.load(), 0.85);
  // One idle second outweighs any number of earlier busy microseconds.
  poll.record_turn(1'000'000 * kMicro, 1'000'000 * kMicro);
  EXPECT_LT(poll.load(), 0.01);
}

}  // namespace
}  // namespace beanstalkd::server
