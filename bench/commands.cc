#include "commands.h"

#include <charconv>

namespace bench {

void append_command(std::string& out, std::string_view verb, std::uint64_t argument) {
  char digits[24];
  const std::to_chars_result result = std::to_chars(digits, digits + sizeof digits, argument);
  out.append(verb);
  out += ' ';
  out.append(digits, static_cast<std::size_t>(result.ptr - digits));
  out += "\r\n";
}

void append_command(std::string& out, std::string_view verb, std::string_view argument) {
  out.append(verb);
  out += ' ';
  out.append(argument);
  out += "\r\n";
}

}  // namespace bench
