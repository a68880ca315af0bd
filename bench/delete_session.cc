#include "delete_session.h"

#include "commands.h"

namespace bench {

DeleteSession::DeleteSession(Connection& connection, std::span<const std::uint64_t> ids,
                             std::size_t depth)
    : Session(connection), ids_(ids), depth_(depth) {}

void DeleteSession::start(WorkerContext& /*ctx*/, std::int64_t /*now_ns*/) {
  pump();
}

void DeleteSession::pump() {
  while (next_ < ids_.size() && in_flight_ < depth_) {
    append_command(connection().output(), "delete", ids_[next_]);
    ++next_;
    ++in_flight_;
  }
  if (next_ == ids_.size() && in_flight_ == 0) finish();
}

void DeleteSession::on_reply(WorkerContext& ctx, const Reply& reply, std::int64_t now_ns) {
  if (reply.kind != ReplyKind::deleted && reply.kind != ReplyKind::not_found) {
    return unexpected(ctx, reply, "DELETED");
  }
  --in_flight_;
  ctx.completed_one(now_ns);
  pump();
}

}  // namespace bench
