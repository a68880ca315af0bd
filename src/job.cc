#include "beanstalkd/job.h"

#include <cassert>
#include <cstring>
#include <new>

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

Job* Job::allocate_body_in_log(std::uint64_t id, std::uint32_t body_size) {
  void* memory = ::operator new(sizeof(Job) + sizeof(std::uint64_t), std::nothrow);
  if (!memory) return nullptr;
  Job* job = new (memory) Job{};
  job->id = id;
  job->body_size = body_size;
  job->body_in_log = true;
  return job;
}

Job* Job::without_body(Job* job, std::uint64_t record_offset) {
  assert(!job->body_in_log && job->pins == 0);
  Job* lean = allocate_body_in_log(job->id, job->body_size);
  if (!lean) return job;
  *lean = *job;
  lean->body_in_log = true;
  lean->set_log_offset(record_offset);
  release_memory(job);
  return lean;
}

std::uint64_t Job::log_offset() const {
  std::uint64_t offset = 0;
  std::memcpy(&offset, body_with_crlf(), sizeof offset);
  return offset;
}

void Job::set_log_offset(std::uint64_t offset) {
  std::memcpy(body_with_crlf(), &offset, sizeof offset);
}

void Job::release_memory(Job* job) {
  job->removed = true;
  if (job->pins > 0) return;
  job->~Job();
  ::operator delete(job);
}

void Job::unpin() {
  if (--pins == 0 && removed) release_memory(this);
}

}  // namespace beanstalkd
