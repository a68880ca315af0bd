#include "beanstalkd/options.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace beanstalkd {
namespace {

Options parse(std::vector<const char*> args) {
  args.insert(args.begin(), "beanstalkd");
  ParsedCommandLine parsed = parse_command_line(static_cast<int>(args.size()), args.data());
  EXPECT_EQ(parsed.action, ParsedCommandLine::Action::Run);
  return parsed.options;
}

// Sizes out of range are brought into it, with a warning for the log.
TEST(Options, LogFileSizeIsKeptWithinItsBounds) {
  EXPECT_EQ(parse({"-s", "1000000"}).binlog_size, 1000000u);
  EXPECT_TRUE(parse({"-s", "1000000"}).warnings.empty());
  const Options tiny = parse({"-s", "100"});
  EXPECT_EQ(tiny.binlog_size, kMinBinlogSize);
  ASSERT_EQ(tiny.warnings.size(), 1u);
  EXPECT_NE(tiny.warnings[0].find("too small"), std::string::npos);
  const Options huge = parse({"-s", "8589934592"});
  EXPECT_EQ(huge.binlog_size, kMaxBinlogSize);
  ASSERT_EQ(huge.warnings.size(), 1u);
  EXPECT_EQ(huge.warnings[0], "log file size 8589934592 is too large; using 4294967295");
}

TEST(Options, JobSizeIsKeptWithinItsLimit) {
  EXPECT_EQ(parse({"-z", "2000000000"}).max_job_size, kMaxJobSizeLimit);
  EXPECT_EQ(parse({"-z", "2000000000"}).warnings.size(), 1u);
  EXPECT_EQ(parse({"-z", "1000"}).max_job_size, 1000u);
}

}  // namespace
}  // namespace beanstalkd
