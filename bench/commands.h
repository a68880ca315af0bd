#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace bench {

// Appends "<verb> <argument>\r\n" to a connection's output, without temporary strings: these
// run once per job in the hot loops.
void append_command(std::string& out, std::string_view verb, std::uint64_t argument);
void append_command(std::string& out, std::string_view verb, std::string_view argument);

}  // namespace bench
