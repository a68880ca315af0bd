// libFuzzer target: any bytes as a command line. The parser must not crash,
// and whatever it accepts must make sense.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "beanstalkd/protocol/parser.h"
#include "beanstalkd/tube.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace beanstalkd;
  std::string_view line(reinterpret_cast<const char*>(data), size);
  protocol::Command command;
  if (protocol::parse_command(line, command) != protocol::ParseStatus::Ok) return 0;
  // A tube name is a view into the line, and valid unless marked otherwise.
  if (!command.tube.empty()) {
    if (command.tube.data() < line.data() ||
        command.tube.data() + command.tube.size() > line.data() + line.size())
      std::abort();
    const bool names_a_tube =
        command.op == protocol::Op::Use || command.op == protocol::Op::Watch ||
        command.op == protocol::Op::Ignore || command.op == protocol::Op::StatsTube;
    if (names_a_tube && !is_valid_tube_name(command.tube)) std::abort();
  }
  return 0;
}
