#include "beanstalkd/options.h"

#include <gtest/gtest.h>

#include <cstdio>
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

// Parses a command line that must be refused; returns what was printed to
// standard error, and checks the exit status is 1, like every usage error.
std::string usage_error(std::vector<const char*> args) {
  args.insert(args.begin(), "beanstalkd");
  testing::internal::CaptureStderr();
  ParsedCommandLine parsed = parse_command_line(static_cast<int>(args.size()), args.data());
  std::string printed = testing::internal::GetCapturedStderr();
  EXPECT_EQ(parsed.action, ParsedCommandLine::Action::Exit) << args[1];
  EXPECT_EQ(parsed.exit_code, 1) << args[1];
  // Only the first line: the usage summary follows it.
  return printed.substr(0, printed.find('\n'));
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
  // Beyond 64 bits is still just too large.
  const Options vast = parse({"-s", "123456789012345678901234567890"});
  EXPECT_EQ(vast.binlog_size, kMaxBinlogSize);
  ASSERT_EQ(vast.warnings.size(), 1u);
  EXPECT_EQ(vast.warnings[0],
            "log file size 123456789012345678901234567890 is too large; using 4294967295");
}

TEST(Options, JobSizeIsKeptWithinItsLimit) {
  EXPECT_EQ(parse({"-z", "2000000000"}).max_job_size, kMaxJobSizeLimit);
  EXPECT_EQ(parse({"-z", "2000000000"}).warnings.size(), 1u);
  EXPECT_EQ(parse({"-z", "1000"}).max_job_size, 1000u);
  const Options vast = parse({"-z", "99999999999999999999"});
  EXPECT_EQ(vast.max_job_size, kMaxJobSizeLimit);
  ASSERT_EQ(vast.warnings.size(), 1u);
  EXPECT_EQ(vast.warnings[0],
            "maximum job size was set to 99999999999999999999; using the limit, 1073741824");
}

// As in the reference, a flag given again replaces the earlier value, so a
// service file's extra options can override -l and -p given before them.
TEST(Options, TheLastValueOfARepeatedFlagWins) {
  const Options o = parse({"-l",
                           "127.0.0.1",
                           "-p",
                           "41050",
                           "-b",
                           "/a",
                           "-u",
                           "nobody",
                           "-z",
                           "100",
                           "-s",
                           "100000",
                           "-f",
                           "20",
                           "--busy-poll",
                           "10",
                           "--metrics-listen",
                           "127.0.0.1:1",
                           "--check-wal",
                           "/c",
                           "-l",
                           "::1",
                           "-p",
                           "41051",
                           "-b",
                           "/b",
                           "-u",
                           "daemon",
                           "-z",
                           "200",
                           "-s",
                           "200000",
                           "-f",
                           "30",
                           "--busy-poll",
                           "20",
                           "--metrics-listen",
                           "127.0.0.1:2",
                           "--check-wal",
                           "/d"});
  EXPECT_EQ(o.listen_address, "::1");
  EXPECT_EQ(o.port, 41051);
  EXPECT_EQ(o.binlog_dir, "/b");
  EXPECT_EQ(o.user, "daemon");
  EXPECT_EQ(o.max_job_size, 200u);
  EXPECT_EQ(o.binlog_size, 200000u);
  EXPECT_EQ(o.fsync_ms, 30u);
  EXPECT_EQ(o.busy_poll_us, 20u);
  EXPECT_EQ(o.metrics_listen, "127.0.0.1:2");
  EXPECT_EQ(o.check_wal_dir, "/d");
  EXPECT_TRUE(o.warnings.empty());
  // Long names, attached values and short names mix.
  EXPECT_EQ(parse({"--port=41052", "-p41053", "--port", "41054"}).port, 41054);
  // Flags without a value still count and combine.
  EXPECT_EQ(parse({"-V", "-VV"}).verbosity, 3);
  EXPECT_TRUE(parse({"-F", "-F"}).no_fsync);
}

// -f and -F set one setting, as in the reference: whichever comes last wins.
TEST(Options, TheLastOfFsyncMsAndNoFsyncWins) {
  EXPECT_FALSE(parse({}).no_fsync);
  EXPECT_EQ(parse({}).fsync_ms, 50u);
  EXPECT_TRUE(parse({"-F"}).no_fsync);
  const Options sync10 = parse({"-F", "-f", "10"});
  EXPECT_FALSE(sync10.no_fsync);
  EXPECT_EQ(sync10.fsync_ms, 10u);
  EXPECT_TRUE(parse({"-f", "10", "-F"}).no_fsync);
  EXPECT_FALSE(parse({"-F", "-f0"}).no_fsync);
  EXPECT_EQ(parse({"-F", "-f0"}).fsync_ms, 0u);
  EXPECT_TRUE(parse({"-f", "0", "-VF"}).no_fsync);
  EXPECT_FALSE(parse({"-VF", "--fsync-ms=5"}).no_fsync);
  EXPECT_TRUE(parse({"-F", "-f", "5", "--no-fsync"}).no_fsync);
  EXPECT_FALSE(parse({"-Ff10"}).no_fsync);
  EXPECT_EQ(parse({"-Ff10"}).fsync_ms, 10u);
  EXPECT_FALSE(parse({"-f", "5", "-F", "-f", "7"}).no_fsync);
  EXPECT_EQ(parse({"-f", "5", "-F", "-f", "7"}).fsync_ms, 7u);
}

// A number that is negative, not a number, or too large for its option is a
// usage error naming the flag, never a value wrapped around.
TEST(Options, BadNumbersAreUsageErrorsNamingTheFlag) {
  EXPECT_EQ(usage_error({"-z", "-1"}),
            "beanstalkd: -z/--max-job-size: -1 is negative; expected a number of bytes");
  EXPECT_EQ(usage_error({"-s", "-5"}),
            "beanstalkd: -s/--binlog-size: -5 is negative; expected a number of bytes");
  EXPECT_EQ(usage_error({"-f", "-1"}),
            "beanstalkd: -f/--fsync-ms: -1 is negative; expected a number of milliseconds "
            "from 0 to 4294967295");
  EXPECT_EQ(usage_error({"-p", "-1"}),
            "beanstalkd: -p/--port: -1 is negative; expected a number from 0 to 65535");
  EXPECT_EQ(usage_error({"-p", "41010x"}),
            "beanstalkd: -p/--port: \"41010x\" is not a number; expected a number from 0 to "
            "65535");
  EXPECT_EQ(usage_error({"-p", "99999"}),
            "beanstalkd: -p/--port: 99999 is out of range; expected a number from 0 to 65535");
  EXPECT_EQ(usage_error({"-f", "4294967296"}),
            "beanstalkd: -f/--fsync-ms: 4294967296 is out of range; expected a number of "
            "milliseconds from 0 to 4294967295");
  EXPECT_EQ(usage_error({"--busy-poll", "1001"}),
            "beanstalkd: --busy-poll: 1001 is out of range; expected a number of microseconds "
            "from 0 to 1000");
  EXPECT_EQ(usage_error({"--busy-poll=-3"}),
            "beanstalkd: --busy-poll: -3 is negative; expected a number of microseconds from 0 "
            "to 1000");
  EXPECT_EQ(usage_error({"-z10x"}),
            "beanstalkd: -z/--max-job-size: \"10x\" is not a number; expected a number of bytes");
  EXPECT_EQ(usage_error({"-s", ""}),
            "beanstalkd: -s/--binlog-size: \"\" is not a number; expected a number of bytes");
  EXPECT_EQ(usage_error({"-f", " 5"}),
            "beanstalkd: -f/--fsync-ms: \" 5\" is not a number; expected a number of "
            "milliseconds from 0 to 4294967295");
  // An earlier bad value is an error too, though a later one replaces it.
  EXPECT_EQ(usage_error({"-p", "x", "-p", "1"}),
            "beanstalkd: -p/--port: \"x\" is not a number; expected a number from 0 to 65535");
  // The bounds themselves are fine.
  EXPECT_EQ(parse({"-p", "65535"}).port, 65535);
  EXPECT_EQ(parse({"-p", "0"}).port, 0);
  EXPECT_EQ(parse({"-f", "4294967295"}).fsync_ms, 4294967295u);
  EXPECT_EQ(parse({"--busy-poll", "1000"}).busy_poll_us, 1000u);
  EXPECT_EQ(parse({"-p", "011300"}).port, 11300);
}

}  // namespace
}  // namespace beanstalkd
