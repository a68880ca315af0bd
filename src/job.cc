#include "beanstalkd/job.h"

#include <cassert>
#include <new>

#include "beanstalkd/slab_allocator.h"

namespace beanstalkd {

const char* job_state_name(JobState state) {
  switch (state) {
    case JobState::Ready:
      return "ready";
    case JobState::Reserved:
      return "reserved";
    case JobState::Delayed:
      return "delayed";
    case JobState::Buried:
      return "buried";
  }
  return "invalid";
}

Job* Job::allocate(std::uint64_t id, std::uint32_t body_size) {
  void* memory = ::operator new(sizeof(Job) + body_size + 2, std::nothrow);
  if (!memory) return nullptr;
  Job* job = new (memory) Job{};
  job->id = id;
  job->body_size = body_size;
  return job;
}

namespace {

// Activity slots, one for each job that has been reserved, delayed or
// buried. Never destroyed: jobs may outlive any owner.
SlabAllocator& activities() {
  static_assert(alignof(JobActivity) <= SlabAllocator::kSlotAlignment);
  static auto* slab = new SlabAllocator(sizeof(JobActivity));
  return *slab;
}

// Header-only jobs, one for each job whose body stays in the log: with -b,
// most of the jobs in memory. Never destroyed: jobs may outlive any owner.
SlabAllocator& header_only_jobs() {
  static_assert(alignof(Job) <= SlabAllocator::kSlotAlignment);
  static auto* slab = new SlabAllocator(sizeof(Job));
  return *slab;
}

}  // namespace

const JobActivity Job::kNoActivity{};

JobActivity& Job::start_activity() {
  assert(!activity_);
  void* memory = activities().allocate();
  if (!memory) throw std::bad_alloc();
  activity_ = new (memory) JobActivity{};
  return *activity_;
}

bool Job::make_room_for_activities(std::size_t count) {
  return activities().ensure_free_slots(count);
}

Job* Job::allocate_body_in_log(std::uint64_t id, std::uint32_t body_size) {
  void* memory = header_only_jobs().allocate();
  if (!memory) return nullptr;
  Job* job = new (memory) Job{};
  job->id = id;
  job->body_size = body_size;
  job->body_in_log = true;
  return job;
}

Job* Job::without_body(Job* job, std::uint64_t record_offset) {
  assert(!job->body_in_log && job->pins() == 0);
  Job* lean = allocate_body_in_log(job->id, job->body_size);
  if (!lean) return job;
  *lean = *job;
  job->activity_ = nullptr;  // now lean's
  lean->body_in_log = true;
  lean->set_log_offset(record_offset);
  release_memory(job);
  return lean;
}

void Job::release_memory(Job* job) {
  job->removed = true;
  if (job->pins() > 0) return;
  const bool header_only = job->body_in_log;
  if (job->activity_) {
    job->activity_->~JobActivity();
    activities().free(job->activity_);
  }
  job->~Job();
  if (header_only) {
    header_only_jobs().free(job);
  } else {
    ::operator delete(job);
  }
}

void Job::unpin() {
  if (--pins_or_log_offset == 0 && removed) release_memory(this);
}

}  // namespace beanstalkd
