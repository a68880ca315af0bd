#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace bench {

// Job bodies are filler bytes of the requested size. End-to-end scenarios (deliver, spray) write
// the send time into the first kStampSize bytes, so a consumer can compute how long the job took
// to reach it without any shared state with the producer.
inline constexpr std::size_t kStampSize = 16;

// The whole put command for a body of `body_size` bytes: "put <pri> 0 <ttr> <n>\r\n<body>\r\n".
std::string make_put_command(std::size_t body_size);

// Offset of the body inside a command made by make_put_command.
std::size_t body_offset(std::string_view put_command);

// Writes `time_ns` as kStampSize lowercase hex digits at `where`.
void write_stamp(char* where, std::int64_t time_ns);

// Reads a stamp from the start of a body; nullopt if it is not one.
std::optional<std::int64_t> read_stamp(std::string_view body);

}  // namespace bench
