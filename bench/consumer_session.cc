#include "consumer_session.h"

#include "commands.h"
#include "job_body.h"

namespace bench {

void ConsumerSession::start(WorkerContext& /*ctx*/, std::int64_t /*now_ns*/) {
  connection().append("reserve\r\n");
}

void ConsumerSession::on_reply(WorkerContext& ctx, const Reply& reply, std::int64_t now_ns) {
  if (deletes_in_flight_ > 0) {
    --deletes_in_flight_;
    if (reply.kind != ReplyKind::deleted) unexpected(ctx, reply, "DELETED");
    return;
  }
  if (reply.kind == ReplyKind::deadline_soon) {
    // Cannot happen with the producer's 120 s TTR, but a waiting worker must handle it.
    connection().append("reserve\r\n");
    return;
  }
  if (reply.kind != ReplyKind::reserved) return unexpected(ctx, reply, "RESERVED");
  const auto stamp = read_stamp(reply.body);
  if (!stamp) return unexpected(ctx, reply, "a job body with a send time");
  ctx.latency.record(now_ns - *stamp);
  ctx.completed_one(now_ns);
  append_command(connection().output(), "delete", reply.number);
  connection().append("reserve\r\n");
  ++deletes_in_flight_;
  ctx.run.job_delivered();
}

}  // namespace bench
