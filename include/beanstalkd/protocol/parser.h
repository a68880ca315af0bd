// The command-line grammar: turns one line (without its CRLF) into a
// Command, with the reference's exact matching and number rules. Pure: no
// I/O, no state.
#pragma once

#include <cstddef>
#include <string_view>

#include "beanstalkd/protocol/command.h"

namespace beanstalkd::protocol {

// A command line, CRLF included, is at most this long.
inline constexpr std::size_t kMaxLineLength = 224;

enum class ParseStatus { Ok, BadFormat, UnknownCommand };

// `line` excludes the CRLF. On Ok, `out` holds the command; its tube view
// points into `line`.
ParseStatus parse_command(std::string_view line, Command& out);

}  // namespace beanstalkd::protocol
