#include "put_session.h"

#include "clock.h"
#include "commands.h"
#include "job_body.h"

namespace bench {

PutSession::PutSession(Connection& connection, const PutPlan& plan, std::size_t first_tube)
    : Session(connection),
      plan_(plan),
      put_command_(make_put_command(plan.body_size)),
      body_offset_(body_offset(put_command_)),
      next_tube_(plan.rotate_tubes.empty() ? 0 : first_tube % plan.rotate_tubes.size()) {}

void PutSession::start(WorkerContext& ctx, std::int64_t now_ns) {
  pump(ctx, now_ns);
}

void PutSession::pump(WorkerContext& ctx, std::int64_t now_ns) {
  std::string& out = connection().output();
  held_by_pacer_ = false;
  while (!budget_used_ && puts_in_flight_ < plan_.depth) {
    if (plan_.paced && ctx.pacer.available(now_ns) <= 0) {
      held_by_pacer_ = true;
      break;
    }
    if (plan_.window > 0 && ctx.run.undelivered() >= plan_.window) break;
    if (!ctx.run.claim_job(now_ns)) {
      budget_used_ = true;
      break;
    }
    if (plan_.paced) ctx.pacer.take();
    if (!plan_.rotate_tubes.empty()) {
      append_command(out, "use", plan_.rotate_tubes[next_tube_]);
      next_tube_ = (next_tube_ + 1) % plan_.rotate_tubes.size();
      in_flight_.push_back({now_ns, false});
    }
    const std::size_t at = out.size();
    out += put_command_;
    if (!plan_.completes_jobs) {
      // Stamp the moment the command leaves, not the loop turn's start: the worker sends this
      // connection's output right after the session returns.
      write_stamp(out.data() + at + body_offset_, bench::now_ns());
    }
    in_flight_.push_back({now_ns, true});
    ++puts_in_flight_;
  }
  if (budget_used_ && in_flight_.empty()) {
    finish();
    if (is_producer()) ctx.run.producer_done();
  }
}

void PutSession::on_reply(WorkerContext& ctx, const Reply& reply, std::int64_t now_ns) {
  if (in_flight_.empty()) {
    unexpected(ctx, reply, "no reply");
    return;
  }
  const InFlight sent = in_flight_.front();
  in_flight_.pop_front();
  if (!sent.is_put) {
    if (reply.kind != ReplyKind::using_tube) unexpected(ctx, reply, "USING");
    return;
  }
  if (reply.kind != ReplyKind::inserted) {
    unexpected(ctx, reply, "INSERTED");
    return;
  }
  --puts_in_flight_;
  if (plan_.record_ids) ids_.push_back(reply.number);
  if (plan_.completes_jobs) {
    ctx.latency.record(now_ns - sent.sent_ns);
    ctx.completed_one(now_ns);
  }
  pump(ctx, now_ns);
}

}  // namespace bench
