// `beanstalkd --check-wal DIR`: verifies a log directory without starting a
// server and without changing a byte in it.
#pragma once

#include <ostream>
#include <string>

namespace beanstalkd::wal {

// Prints a report to `out`. Returns 0 when every file is intact (a torn last
// record in the newest file counts as intact: recovery cuts it off), 1 when
// there is damage, 2 when the directory cannot be read.
int check_wal_directory(const std::string& dir, std::ostream& out);

}  // namespace beanstalkd::wal
