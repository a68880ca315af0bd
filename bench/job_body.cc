#include "job_body.h"

#include <charconv>

namespace bench {
namespace {

// Not urgent (>= 1024) like most real jobs; a generous TTR so that no job times out while a
// slow server is being measured.
constexpr std::string_view kPriority = "1024";
constexpr std::string_view kTtr = "120";

}  // namespace

std::string make_put_command(std::size_t body_size) {
  std::string command = "put ";
  command += kPriority;
  command += " 0 ";
  command += kTtr;
  command += ' ';
  command += std::to_string(body_size);
  command += "\r\n";
  command.append(body_size, 'x');
  command += "\r\n";
  return command;
}

std::size_t body_offset(std::string_view put_command) {
  return put_command.find("\r\n") + 2;
}

void write_stamp(char* where, std::int64_t time_ns) {
  static constexpr char kDigits[] = "0123456789abcdef";
  auto value = static_cast<std::uint64_t>(time_ns);
  for (std::size_t i = kStampSize; i > 0; --i) {
    where[i - 1] = kDigits[value & 0xf];
    value >>= 4;
  }
}

std::optional<std::int64_t> read_stamp(std::string_view body) {
  if (body.size() < kStampSize) return std::nullopt;
  std::uint64_t value = 0;
  const char* end = body.data() + kStampSize;
  const auto [stop, error] = std::from_chars(body.data(), end, value, 16);
  if (error != std::errc() || stop != end) return std::nullopt;
  return static_cast<std::int64_t>(value);
}

}  // namespace bench
