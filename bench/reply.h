#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace bench {

// The server replies the benchmark can receive. Anything else (BAD_FORMAT, OUT_OF_MEMORY, ...)
// is `other`, and the line says which.
enum class ReplyKind : std::uint8_t {
  inserted,
  buried,
  reserved,
  found,
  ok,
  deleted,
  using_tube,
  watching,
  timed_out,
  deadline_soon,
  not_found,
  released,
  touched,
  kicked,
  paused,
  not_ignored,
  other,
};

struct Reply {
  ReplyKind kind = ReplyKind::other;
  // Job id for INSERTED, BURIED, RESERVED, FOUND; count for WATCHING, KICKED; 0 otherwise.
  std::uint64_t number = 0;
  // The reply line without its CRLF, for error messages and USING.
  std::string_view line;
  // The payload of RESERVED, FOUND and OK, without its trailing CRLF.
  std::string_view body;
};

enum class ParseStatus : std::uint8_t { complete, incomplete, malformed };

// Parses the reply at the start of `input`. On `complete`, `consumed` is the number of bytes the
// reply occupies and the views in `reply` point into `input`. `incomplete` asks for more bytes;
// `malformed` means the stream cannot be framed any more.
ParseStatus parse_reply(std::string_view input, Reply& reply, std::size_t& consumed);

}  // namespace bench
