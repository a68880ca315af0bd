#include "beanstalkd/tube.h"

#include <algorithm>
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

TubeSnapshot snapshot(const Tube& tube, Nanos now) {
  TubeSnapshot s;
  s.name = tube.name;
  s.jobs_urgent = tube.urgent_count;
  s.jobs_ready = tube.ready.size();
  s.jobs_reserved = tube.reserved_count;
  s.jobs_delayed = tube.delayed.size();
  s.jobs_buried = tube.buried.size();
  s.total_jobs = tube.total_jobs;
  s.using_count = tube.using_count;
  s.watching_count = tube.watching_count;
  s.waiting_count = tube.waiters.size();
  s.cmd_delete = tube.cmd_delete;
  s.cmd_pause_tube = tube.cmd_pause_tube;
  s.paused = tube.paused();
  if (s.paused) {
    s.pause_duration = tube.pause_duration;
    s.pause_left = std::max<Nanos>(0, tube.unpause_at - now);
  }
  return s;
}

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
