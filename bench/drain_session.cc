#include "drain_session.h"

#include "commands.h"

namespace bench {

DrainSession::DrainSession(Connection& connection, std::size_t depth)
    : Session(connection), depth_(depth) {}

void DrainSession::start(WorkerContext& ctx, std::int64_t now_ns) {
  pump(ctx, now_ns);
}

void DrainSession::pump(WorkerContext& ctx, std::int64_t now_ns) {
  if (ctx.run.issuing_over(now_ns)) empty_ = true;
  while (!empty_ && reserves_in_flight_ < depth_) {
    connection().append("reserve-with-timeout 0\r\n");
    in_flight_.push_back({now_ns, true});
    ++reserves_in_flight_;
  }
  if (empty_ && in_flight_.empty()) finish();
}

void DrainSession::on_reply(WorkerContext& ctx, const Reply& reply, std::int64_t now_ns) {
  if (in_flight_.empty()) {
    unexpected(ctx, reply, "no reply");
    return;
  }
  const InFlight sent = in_flight_.front();
  in_flight_.pop_front();
  if (sent.is_reserve) {
    --reserves_in_flight_;
    if (reply.kind == ReplyKind::timed_out) {
      empty_ = true;
    } else if (reply.kind == ReplyKind::reserved) {
      ctx.latency.record(now_ns - sent.sent_ns);
      append_command(connection().output(), "delete", reply.number);
      in_flight_.push_back({now_ns, false});
    } else {
      unexpected(ctx, reply, "RESERVED or TIMED_OUT");
      return;
    }
  } else {
    if (reply.kind != ReplyKind::deleted) {
      unexpected(ctx, reply, "DELETED");
      return;
    }
    ctx.completed_one(now_ns);
  }
  pump(ctx, now_ns);
}

}  // namespace bench
