#include "reply.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <utility>

namespace bench {
namespace {

// Reply lines are short (the longest is USING with a 200-byte tube name). Without a CRLF in this
// many bytes the stream has lost its framing.
constexpr std::size_t kMaxLine = 1024;

constexpr std::array<std::pair<std::string_view, ReplyKind>, 16> kWords{{
    {"INSERTED", ReplyKind::inserted},
    {"RESERVED", ReplyKind::reserved},
    {"DELETED", ReplyKind::deleted},
    {"USING", ReplyKind::using_tube},
    {"WATCHING", ReplyKind::watching},
    {"TIMED_OUT", ReplyKind::timed_out},
    {"FOUND", ReplyKind::found},
    {"OK", ReplyKind::ok},
    {"BURIED", ReplyKind::buried},
    {"DEADLINE_SOON", ReplyKind::deadline_soon},
    {"NOT_FOUND", ReplyKind::not_found},
    {"RELEASED", ReplyKind::released},
    {"TOUCHED", ReplyKind::touched},
    {"KICKED", ReplyKind::kicked},
    {"PAUSED", ReplyKind::paused},
    {"NOT_IGNORED", ReplyKind::not_ignored},
}};

ReplyKind kind_of(std::string_view word) {
  for (const auto& [name, kind] : kWords) {
    if (name == word) return kind;
  }
  return ReplyKind::other;
}

// Parses one decimal number at the front of `text` and drops it (and one following space).
bool take_number(std::string_view& text, std::uint64_t& value) {
  const char* end = text.data() + text.size();
  const auto [stop, error] = std::from_chars(text.data(), end, value);
  if (error != std::errc() || stop == text.data()) return false;
  text.remove_prefix(static_cast<std::size_t>(stop - text.data()));
  if (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  return true;
}

}  // namespace

ParseStatus parse_reply(std::string_view input, Reply& reply, std::size_t& consumed) {
  const std::size_t end_of_line = input.substr(0, kMaxLine).find("\r\n");
  if (end_of_line == std::string_view::npos) {
    return input.size() >= kMaxLine ? ParseStatus::malformed : ParseStatus::incomplete;
  }
  reply = Reply{};
  reply.line = input.substr(0, end_of_line);
  consumed = end_of_line + 2;

  const std::size_t space = reply.line.find(' ');
  std::string_view rest =
      space == std::string_view::npos ? std::string_view() : reply.line.substr(space + 1);
  reply.kind = kind_of(reply.line.substr(0, space));

  std::uint64_t body_size = 0;
  switch (reply.kind) {
    case ReplyKind::inserted:
    case ReplyKind::watching:
      if (!take_number(rest, reply.number)) return ParseStatus::malformed;
      return ParseStatus::complete;
    case ReplyKind::buried:
    case ReplyKind::kicked:
      // "BURIED <id>" after put, plain "BURIED" after bury; "KICKED <n>" or plain "KICKED".
      if (!rest.empty() && !take_number(rest, reply.number)) return ParseStatus::malformed;
      return ParseStatus::complete;
    case ReplyKind::reserved:
    case ReplyKind::found:
      if (!take_number(rest, reply.number) || !take_number(rest, body_size)) {
        return ParseStatus::malformed;
      }
      break;
    case ReplyKind::ok:
      if (!take_number(rest, body_size)) return ParseStatus::malformed;
      break;
    default:
      return ParseStatus::complete;
  }

  // A reply with a payload: <line>\r\n<body_size bytes>\r\n
  if (input.size() - consumed < body_size + 2) return ParseStatus::incomplete;
  const std::size_t size = static_cast<std::size_t>(body_size);
  reply.body = input.substr(consumed, size);
  if (input.substr(consumed + size, 2) != "\r\n") return ParseStatus::malformed;
  consumed += size + 2;
  return ParseStatus::complete;
}

}  // namespace bench
