// The options the write-ahead log's own tests start from: small files
// (64 KiB, so that a few hundred records start a new one) and syncs run on
// the test's thread, which keeps the tests deterministic.
#pragma once

#include <string>
#include <utility>

#include "beanstalkd/wal/wal.h"

namespace beanstalkd::wal::testing {

inline WalOptions small_log_options(std::string dir, SyncPolicy policy = SyncPolicy::Always) {
  WalOptions o;
  o.dir = std::move(dir);
  o.file_size = 64 * 1024;
  o.policy = policy;
  o.background_sync = false;
  return o;
}

}  // namespace beanstalkd::wal::testing
