#include "session.h"

#include <string>

namespace bench {

void Session::unexpected(WorkerContext& ctx, const Reply& reply, std::string_view wanted) {
  ctx.run.fail("expected " + std::string(wanted) + ", got '" + std::string(reply.line) + "'");
}

}  // namespace bench
