#include "cycle_session.h"

#include "commands.h"
#include "job_body.h"

namespace bench {

CycleSession::CycleSession(Connection& connection, std::size_t body_size, bool paced)
    : Session(connection), put_command_(make_put_command(body_size)), paced_(paced) {}

void CycleSession::start(WorkerContext& ctx, std::int64_t now_ns) {
  begin_cycle(ctx, now_ns);
}

void CycleSession::on_tick(WorkerContext& ctx, std::int64_t now_ns) {
  if (step_ == Step::idle) begin_cycle(ctx, now_ns);
}

void CycleSession::begin_cycle(WorkerContext& ctx, std::int64_t now_ns) {
  if (paced_ && ctx.pacer.available(now_ns) <= 0) return;  // on_tick retries
  if (!ctx.run.claim_job(now_ns)) {
    finish();
    return;
  }
  if (paced_) ctx.pacer.take();
  connection().append(put_command_);
  step_ = Step::put;
  cycle_start_ns_ = now_ns;
}

void CycleSession::on_reply(WorkerContext& ctx, const Reply& reply, std::int64_t now_ns) {
  switch (step_) {
    case Step::put:
      if (reply.kind != ReplyKind::inserted) return unexpected(ctx, reply, "INSERTED");
      connection().append("reserve\r\n");
      step_ = Step::reserve;
      return;
    case Step::reserve:
      if (reply.kind != ReplyKind::reserved) return unexpected(ctx, reply, "RESERVED");
      append_command(connection().output(), "delete", reply.number);
      step_ = Step::remove;
      return;
    case Step::remove:
      if (reply.kind != ReplyKind::deleted) return unexpected(ctx, reply, "DELETED");
      ctx.latency.record(now_ns - cycle_start_ns_);
      ctx.completed_one(now_ns);
      step_ = Step::idle;
      begin_cycle(ctx, now_ns);
      return;
    case Step::idle:
      return unexpected(ctx, reply, "no reply");
  }
}

}  // namespace bench
