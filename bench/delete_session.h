#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "session.h"

namespace bench {

// Deletes a list of jobs by id with `depth` deletes in flight: the fastest way to clean up after
// a put phase, and the "delete everything" step of the memory scenario. NOT_FOUND is accepted
// (the job may be gone already); each answered delete completes one job.
class DeleteSession : public Session {
 public:
  // `ids` must outlive the session.
  DeleteSession(Connection& connection, std::span<const std::uint64_t> ids, std::size_t depth);

  void start(WorkerContext& ctx, std::int64_t now_ns) override;
  void on_reply(WorkerContext& ctx, const Reply& reply, std::int64_t now_ns) override;

 private:
  void pump();

  const std::span<const std::uint64_t> ids_;
  const std::size_t depth_;
  std::size_t next_ = 0;
  std::size_t in_flight_ = 0;
};

}  // namespace bench
