#include "beanstalkd/tube.h"

#include <array>

namespace beanstalkd {

namespace {

constexpr std::array<bool, 256> make_name_chars() {
  std::array<bool, 256> table{};
  for (char c = 'a'; c <= 'z'; ++c) table[static_cast<unsigned char>(c)] = true;
  for (char c = 'A'; c <= 'Z'; ++c) table[static_cast<unsigned char>(c)] = true;
  for (char c = '0'; c <= '9'; ++c) table[static_cast<unsigned char>(c)] = true;
  for (char c : std::string_view("-+/;.$_()")) table[static_cast<unsigned char>(c)] = true;
  return table;
}

constexpr std::array<bool, 256> kNameChars = make_name_chars();

}  // namespace

bool is_tube_name_char(char c) {
  return kNameChars[static_cast<unsigned char>(c)];
}

bool is_valid_tube_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxTubeNameLength || name.front() == '-') return false;
  for (char c : name)
    if (!is_tube_name_char(c)) return false;
  return true;
}

}  // namespace beanstalkd
