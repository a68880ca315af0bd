#include "beanstalkd/server/idle_poll.h"

#include <gtest/gtest.h>

namespace beanstalkd::server {
namespace {

constexpr Nanos kMicro = 1000;

TEST(IdlePollTest, DisabledNeverPolls) {
  IdlePoll poll(0);
  for (int i = 0; i < 10; ++i) poll.blocked_for(1 * kMicro);
  EXPECT_EQ(poll.window(), 0);
}

TEST(IdlePollTest, StartsWithoutPolling) {
  IdlePoll poll(50 * kMicro);
  EXPECT_EQ(poll.window(), 0);
}

TEST(IdlePollTest, ShortWaitsGrowTheWindowUpToTheMaximum) {
  IdlePoll poll(50 * kMicro);
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
  poll.blocked_for(5 * kMicro);
  poll.blocked_for(15 * kMicro);
  ASSERT_EQ(poll.window(), 20 * kMicro);
  // Shorter than the window: polling was not the problem; no growth.
  poll.blocked_for(3 * kMicro);
  EXPECT_EQ(poll.window(), 20 * kMicro);
}

TEST(IdlePollTest, LongWaitsShrinkTheWindowToZero) {
  IdlePoll poll(50 * kMicro);
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

}  // namespace
}  // namespace beanstalkd::server
