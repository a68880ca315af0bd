#include "beanstalkd/job.h"

#include <gtest/gtest.h>

namespace beanstalkd {
namespace {

TEST(Job, AFreshJobHasNoActivityAndReadsAsZero) {
  Job* job = Job::allocate(7, 100);
  ASSERT_NE(job, nullptr);
  EXPECT_FALSE(job->has_activity());
  const JobActivity& activity = job->activity();
  EXPECT_EQ(activity.holder, nullptr);
  EXPECT_EQ(activity.deadline_at, 0);
  EXPECT_EQ(activity.timer_index, kNotInHeap);
  EXPECT_EQ(activity.counts.reserves + activity.counts.timeouts + activity.counts.releases +
                activity.counts.buries + activity.counts.kicks,
            0u);
  EXPECT_FALSE(job->has_activity());  // reading did not allocate one
  Job::release_memory(job);
}

TEST(Job, AnActivityStartsOnTheFirstChangeAndStays) {
  Job* job = Job::allocate(7, 100);
  ASSERT_NE(job, nullptr);
  ++job->activity_to_change().counts.reserves;
  ASSERT_TRUE(job->has_activity());
  ++job->activity_to_change().counts.releases;
  EXPECT_EQ(job->activity().counts.reserves, 1u);
  EXPECT_EQ(job->activity().counts.releases, 1u);
  Job::release_memory(job);
}

TEST(Job, AHeaderOnlyCopyTakesTheActivityWithIt) {
  Job* job = Job::allocate(9, 100);
  ASSERT_NE(job, nullptr);
  job->activity_to_change().deadline_at = 42;
  job->activity_to_change().counts.buries = 3;
  Job* lean = Job::without_body(job, 1000);
  ASSERT_NE(lean, job);
  ASSERT_TRUE(lean->has_activity());
  EXPECT_EQ(lean->activity().deadline_at, 42);
  EXPECT_EQ(lean->activity().counts.buries, 3u);
  EXPECT_EQ(lean->log_offset(), 1000u);
  Job::release_memory(lean);  // frees the activity once (checked under ASan)
}

TEST(JobCounters, AnyIsTrueWhenOneCounterIsNotZero) {
  EXPECT_FALSE(JobCounters{}.any());
  JobCounters kicked;
  kicked.kicks = 1;
  EXPECT_TRUE(kicked.any());
  JobCounters timed_out;
  timed_out.timeouts = 1;
  EXPECT_TRUE(timed_out.any());
  EXPECT_NE(kicked, timed_out);
}

}  // namespace
}  // namespace beanstalkd
