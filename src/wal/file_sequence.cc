#include "beanstalkd/wal/file_sequence.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>
#include <string_view>

#include "beanstalkd/wal/format.h"
#include "beanstalkd/wal/wal.h"

namespace beanstalkd::wal {

int OldestFileMark::write(std::size_t obsolete) const {
  const std::string bytes = encode_oldest_needed(oldest_needed);
  int rc = file->write_at(kOldestNeededOffset, bytes.data(), bytes.size());
  if (rc == 0 && sync) rc = file->sync();
  if (rc != 0)
    spdlog::warn(
        "cannot record in {} that the log no longer needs files before {}: {}; leaving {} "
        "obsolete log files for the next start to remove",
        path, Wal::file_name(oldest_needed), std::strerror(rc), obsolete);
  return rc;
}

namespace {

// Adds first..last to `out`, less the files kept aside.
void add_missing(std::uint64_t first, std::uint64_t last,
                 const std::vector<std::uint32_t>& set_aside, std::vector<MissingFiles>& out) {
  auto aside = std::lower_bound(set_aside.begin(), set_aside.end(), first);
  while (first <= last) {
    while (aside != set_aside.end() && *aside < first) ++aside;
    if (aside != set_aside.end() && *aside == first) {
      ++first;
      continue;
    }
    const std::uint64_t end =
        aside != set_aside.end() && *aside <= last ? std::uint64_t{*aside} - 1 : last;
    out.push_back({static_cast<std::uint32_t>(first), static_cast<std::uint32_t>(end)});
    first = end + 1;
  }
}

}  // namespace

std::vector<MissingFiles> missing_log_files(const std::vector<std::uint32_t>& present,
                                            const std::vector<std::uint32_t>& set_aside,
                                            std::uint32_t oldest_needed) {
  std::vector<MissingFiles> missing;
  if (present.empty()) return missing;
  if (oldest_needed != 0 && oldest_needed < present.front())
    add_missing(oldest_needed, present.front() - 1, set_aside, missing);
  for (std::size_t i = 1; i < present.size(); ++i)
    if (present[i] != present[i - 1] + 1)
      add_missing(std::uint64_t{present[i - 1]} + 1, present[i] - 1, set_aside, missing);
  return missing;
}

LogFileIndexes log_file_indexes(const std::vector<std::string>& names) {
  LogFileIndexes found;
  for (const std::string& name : names) {
    if (std::uint32_t index = Wal::parse_file_name(name)) found.files.push_back(index);
    if (std::uint32_t index = parse_set_aside_file_name(name)) found.set_aside.push_back(index);
  }
  std::sort(found.files.begin(), found.files.end());
  std::sort(found.set_aside.begin(), found.set_aside.end());
  return found;
}

std::uint32_t parse_set_aside_file_name(const std::string& name) {
  constexpr std::string_view kSuffix = ".damaged";
  if (name.size() <= kSuffix.size() ||
      name.compare(name.size() - kSuffix.size(), kSuffix.size(), kSuffix) != 0)
    return 0;
  return Wal::parse_file_name(name.substr(0, name.size() - kSuffix.size()));
}

}  // namespace beanstalkd::wal
