#include "beanstalkd/protocol/parser.h"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <limits>

#include "beanstalkd/tube.h"

namespace beanstalkd::protocol {

namespace {

// Reads one unsigned decimal number the way the reference does: skip
// spaces, require a digit, take every digit, check the range. `rest`
// receives what follows the digits.
template <typename T>
bool read_number(std::string_view in, T max, T& value, std::string_view& rest) {
  std::size_t i = 0;
  while (i < in.size() && in[i] == ' ') ++i;
  if (i == in.size() || in[i] < '0' || in[i] > '9') return false;
  std::uint64_t v = 0;
  const char* begin = in.data() + i;
  auto [ptr, ec] = std::from_chars(begin, in.data() + in.size(), v);
  if (ec != std::errc{} || v > max) return false;
  value = static_cast<T>(v);
  rest = in.substr(static_cast<std::size_t>(ptr - in.data()));
  return true;
}

// A number that must end the line.
template <typename T>
bool read_last_number(std::string_view in, T max, T& value) {
  std::string_view rest;
  return read_number(in, max, value, rest) && rest.empty();
}

// kick's bound is read like C's strtoul, as the reference reads it: leading
// white space, an optional sign, at least one digit, and anything after the
// digits ignored. A negative number wraps around, so "kick -1" kicks every
// job; only an overflow of 64 bits is BAD_FORMAT. Like the reference, the
// result is cut to 32 bits ("kick 4294967296" kicks nothing).
bool read_kick_bound(std::string_view in, std::uint32_t& value) {
  std::size_t i = 0;
  while (i < in.size() && (in[i] == ' ' || (in[i] >= '\t' && in[i] <= '\r'))) ++i;
  bool negative = false;
  if (i < in.size() && (in[i] == '+' || in[i] == '-')) negative = in[i++] == '-';
  if (i == in.size() || in[i] < '0' || in[i] > '9') return false;
  std::uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(in.data() + i, in.data() + in.size(), v);
  (void)ptr;
  if (ec != std::errc{}) return false;
  if (negative) v = 0 - v;
  value = static_cast<std::uint32_t>(v);
  return true;
}

constexpr auto kU32 = std::numeric_limits<std::uint32_t>::max();
constexpr auto kU64 = std::numeric_limits<std::uint64_t>::max();
// reserve-with-timeout takes 0 .. 2^31-1, as 1.13 does.
constexpr std::uint32_t kMaxReserveTimeout = 2147483647;

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

struct Entry {
  std::string_view name;  // with a trailing space when it takes arguments
  Op op;
};

// Tried in this order, as prefixes: a longer name before a shorter one it
// starts with. A command without arguments that matches as a prefix but has
// more text after it is BAD_FORMAT, not UNKNOWN_COMMAND, like the reference.
constexpr Entry kTable[] = {
    {"put ", Op::Put},
    {"peek ", Op::Peek},
    {"peek-ready", Op::PeekReady},
    {"peek-delayed", Op::PeekDelayed},
    {"peek-buried", Op::PeekBuried},
    {"reserve-with-timeout ", Op::ReserveWithTimeout},
    {"reserve-job ", Op::ReserveJob},
    {"reserve", Op::Reserve},
    {"delete ", Op::Delete},
    {"release ", Op::Release},
    {"bury ", Op::Bury},
    {"kick ", Op::Kick},
    {"kick-job ", Op::KickJob},
    {"touch ", Op::Touch},
    {"stats-job ", Op::StatsJob},
    {"stats-tube ", Op::StatsTube},
    {"stats", Op::Stats},
    {"use ", Op::Use},
    {"watch ", Op::Watch},
    {"ignore ", Op::Ignore},
    {"list-tubes-watched", Op::ListTubesWatched},
    {"list-tube-used", Op::ListTubeUsed},
    {"list-tubes", Op::ListTubes},
    {"quit", Op::Quit},
    {"pause-tube", Op::PauseTube},  // no space needed: "pause-tubefoo 1" pauses foo
};

ParseStatus bad() {
  return ParseStatus::BadFormat;
}

ParseStatus parse_put(std::string_view args, Command& out) {
  std::string_view rest;
  if (!read_number(args, kU32, out.priority, rest) || !read_number(rest, kU32, out.delay, rest) ||
      !read_number(rest, kU32, out.ttr, rest) || !read_number(rest, kU32, out.body_size, rest))
    return bad();
  out.bad_after_count = !rest.empty();
  return ParseStatus::Ok;
}

// pause-tube <name> <seconds>: the name is the run of name characters after
// optional spaces, and must be a valid name.
ParseStatus parse_pause(std::string_view args, Command& out) {
  std::size_t i = 0;
  while (i < args.size() && args[i] == ' ') ++i;
  std::size_t j = i;
  while (j < args.size() && is_tube_name_char(args[j])) ++j;
  if (j == i) return bad();
  out.tube = args.substr(i, j - i);
  if (!read_last_number(args.substr(j), kU32, out.delay)) return bad();
  out.bad_after_count = !is_valid_tube_name(out.tube);
  return ParseStatus::Ok;
}

}  // namespace

std::string_view op_name(Op op) {
  for (const Entry& e : kTable) {
    if (e.op != op) continue;
    std::string_view name = e.name;
    if (!name.empty() && name.back() == ' ') name.remove_suffix(1);
    return name;
  }
  return "unknown";
}

ParseStatus parse_command(std::string_view line, Command& out) {
  out = Command{};
  // The reference works on C strings: an embedded NUL is malicious.
  if (line.find('\0') != std::string_view::npos) return bad();
  const Entry* match = nullptr;
  for (const Entry& e : kTable) {
    if (starts_with(line, e.name)) {
      match = &e;
      break;
    }
  }
  if (!match) return ParseStatus::UnknownCommand;
  out.op = match->op;
  std::string_view args = line.substr(match->name.size());

  switch (match->op) {
    case Op::Put:
      return parse_put(args, out);
    case Op::Peek:
    case Op::ReserveJob:
    case Op::Delete:
    case Op::KickJob:
    case Op::Touch:
    case Op::StatsJob:
      return read_last_number(args, kU64, out.id) ? ParseStatus::Ok : bad();
    case Op::Release: {
      std::string_view rest;
      return read_number(args, kU64, out.id, rest) && read_number(rest, kU32, out.priority, rest) &&
                     read_last_number(rest, kU32, out.delay)
                 ? ParseStatus::Ok
                 : bad();
    }
    case Op::Bury: {
      std::string_view rest;
      return read_number(args, kU64, out.id, rest) && read_last_number(rest, kU32, out.priority)
                 ? ParseStatus::Ok
                 : bad();
    }
    case Op::Kick:
      return read_kick_bound(args, out.count) ? ParseStatus::Ok : bad();
    case Op::ReserveWithTimeout:
      return read_last_number(args, kMaxReserveTimeout, out.count) ? ParseStatus::Ok : bad();
    case Op::Use:
    case Op::Watch:
    case Op::Ignore:
    case Op::StatsTube:
      // The name is the whole rest of the line.
      out.tube = args;
      return is_valid_tube_name(args) ? ParseStatus::Ok : bad();
    case Op::PauseTube:
      return parse_pause(args, out);
    case Op::Quit:
      // Matched as a prefix: "quitxyz" quits too.
      return ParseStatus::Ok;
    case Op::PeekReady:
    case Op::PeekDelayed:
    case Op::PeekBuried:
    case Op::Reserve:
    case Op::Stats:
    case Op::ListTubes:
    case Op::ListTubeUsed:
    case Op::ListTubesWatched:
      return args.empty() ? ParseStatus::Ok : bad();
  }
  return ParseStatus::UnknownCommand;
}

}  // namespace beanstalkd::protocol
