#include "beanstalkd/logging.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <regex>
#include <string>

#include <spdlog/details/log_msg.h>

namespace beanstalkd {
namespace {

std::string formatted(LogStyle style, spdlog::level::level_enum level, const std::string& text) {
  const spdlog::details::log_msg msg("beanstalkd", level, text);
  spdlog::memory_buf_t out;
  make_log_formatter(style)->format(msg, out);
  return std::string(out.data(), out.size());
}

// Under the journal every line carries the sd-daemon priority prefix, so
// `journalctl -p err` finds errors, and no time stamp of the server's own.
TEST(Logging, JournalLinesCarryTheirPriority) {
  EXPECT_EQ(formatted(LogStyle::Journal, spdlog::level::err, "disk full"), "<3>error: disk full\n");
  EXPECT_EQ(formatted(LogStyle::Journal, spdlog::level::warn, "w"), "<4>warning: w\n");
  EXPECT_EQ(formatted(LogStyle::Journal, spdlog::level::info, "i"), "<6>info: i\n");
  EXPECT_EQ(formatted(LogStyle::Journal, spdlog::level::debug, "d"), "<7>debug: d\n");
  EXPECT_EQ(formatted(LogStyle::Journal, spdlog::level::trace, "t"), "<7>trace: t\n");
  EXPECT_EQ(formatted(LogStyle::Journal, spdlog::level::critical, "c"), "<2>critical: c\n");
  // The journal takes each line as an entry: every one needs the prefix.
  EXPECT_EQ(formatted(LogStyle::Journal, spdlog::level::err, "one\ntwo\n"),
            "<3>error: one\n<3>error: two\n");
  EXPECT_EQ(formatted(LogStyle::Journal, spdlog::level::info, ""), "<6>info: \n");
}

TEST(Logging, PlainLinesHaveATimeStampAndNoPrefix) {
  const std::string line = formatted(LogStyle::Plain, spdlog::level::err, "disk full");
  EXPECT_TRUE(std::regex_match(
      line, std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3} error: disk full\n)")))
      << line;
}

TEST(Logging, SyslogPriorities) {
  EXPECT_EQ(syslog_priority(spdlog::level::critical), 2);
  EXPECT_EQ(syslog_priority(spdlog::level::err), 3);
  EXPECT_EQ(syslog_priority(spdlog::level::warn), 4);
  EXPECT_EQ(syslog_priority(spdlog::level::info), 6);
  EXPECT_EQ(syslog_priority(spdlog::level::debug), 7);
  EXPECT_EQ(syslog_priority(spdlog::level::trace), 7);
}

// JOURNAL_STREAM counts only when it names the very file on the descriptor
// (systemd.exec(5)): a service whose stderr was redirected elsewhere
// inherits the variable but does not write to the journal.
TEST(Logging, TheJournalStyleNeedsTheDescriptorToBeTheJournalStream) {
  char path[] = "/tmp/logging-test-XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  struct stat st {};
  ASSERT_EQ(fstat(fd, &st), 0);
  const std::string dev = std::to_string(st.st_dev);
  const std::string ino = std::to_string(st.st_ino);
  EXPECT_EQ(log_style_for((dev + ":" + ino).c_str(), fd), LogStyle::Journal);
  EXPECT_EQ(log_style_for(nullptr, fd), LogStyle::Plain);
  EXPECT_EQ(log_style_for("", fd), LogStyle::Plain);
  EXPECT_EQ(log_style_for((dev + ":" + std::to_string(st.st_ino + 1)).c_str(), fd),
            LogStyle::Plain);
  EXPECT_EQ(log_style_for((std::to_string(st.st_dev + 1) + ":" + ino).c_str(), fd),
            LogStyle::Plain);
  EXPECT_EQ(log_style_for((dev + ino).c_str(), fd), LogStyle::Plain);
  EXPECT_EQ(log_style_for((dev + ":" + ino + "x").c_str(), fd), LogStyle::Plain);
  EXPECT_EQ(log_style_for((":" + ino).c_str(), fd), LogStyle::Plain);
  EXPECT_EQ(log_style_for("8:1", fd), LogStyle::Plain);
  // Another descriptor on another file does not match.
  const int other = open("/dev/null", O_WRONLY);
  ASSERT_GE(other, 0);
  EXPECT_EQ(log_style_for((dev + ":" + ino).c_str(), other), LogStyle::Plain);
  close(other);
  close(fd);
  unlink(path);
  // A closed descriptor has no file at all.
  EXPECT_EQ(log_style_for((dev + ":" + ino).c_str(), fd), LogStyle::Plain);
}

}  // namespace
}  // namespace beanstalkd
