#include "beanstalkd/logging.h"

#include <sys/stat.h>
#include <unistd.h>

#include <charconv>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <system_error>

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace beanstalkd {
namespace {

// Reads all of `text` as a decimal number.
bool read_decimal(std::string_view text, std::uintmax_t& value) {
  if (text.empty()) return false;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  return ec == std::errc() && ptr == end;
}

class JournalFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    const std::string_view payload(msg.payload.data(), msg.payload.size());
    const spdlog::string_view_t level = spdlog::level::to_string_view(msg.level);
    const std::string prefix = "<" + std::to_string(syslog_priority(msg.level)) + ">" +
                               std::string(level.data(), level.size()) + ": ";
    std::size_t start = 0;
    while (true) {
      const std::size_t newline = payload.find('\n', start);
      const std::string_view line =
          payload.substr(start, newline == std::string_view::npos ? newline : newline - start);
      dest.append(prefix.data(), prefix.data() + prefix.size());
      dest.append(line.data(), line.data() + line.size());
      dest.push_back('\n');
      if (newline == std::string_view::npos || newline + 1 == payload.size()) break;
      start = newline + 1;
    }
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JournalFormatter>();
  }
};

}  // namespace

LogStyle log_style_for(const char* journal_stream, int fd) {
  if (journal_stream == nullptr) return LogStyle::Plain;
  const std::string_view value(journal_stream);
  const std::size_t colon = value.find(':');
  std::uintmax_t device = 0;
  std::uintmax_t inode = 0;
  if (colon == std::string_view::npos || !read_decimal(value.substr(0, colon), device) ||
      !read_decimal(value.substr(colon + 1), inode))
    return LogStyle::Plain;
  struct stat st {};
  if (fstat(fd, &st) != 0) return LogStyle::Plain;
  return static_cast<std::uintmax_t>(st.st_dev) == device &&
                 static_cast<std::uintmax_t>(st.st_ino) == inode
             ? LogStyle::Journal
             : LogStyle::Plain;
}

int syslog_priority(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::critical:
      return 2;  // LOG_CRIT
    case spdlog::level::err:
      return 3;  // LOG_ERR
    case spdlog::level::warn:
      return 4;  // LOG_WARNING
    case spdlog::level::info:
      return 6;  // LOG_INFO
    default:
      return 7;  // LOG_DEBUG: debug and trace
  }
}

std::unique_ptr<spdlog::formatter> make_log_formatter(LogStyle style) {
  if (style == LogStyle::Journal) return std::make_unique<JournalFormatter>();
  return std::make_unique<spdlog::pattern_formatter>("%Y-%m-%dT%H:%M:%S.%e %l: %v");
}

void setup_logging(int verbosity) {
  auto logger = spdlog::stderr_logger_st("beanstalkd");
  logger->set_formatter(make_log_formatter(log_style_for(std::getenv("JOURNAL_STREAM"), 2)));
  logger->set_level(verbosity >= 2   ? spdlog::level::trace
                    : verbosity == 1 ? spdlog::level::debug
                                     : spdlog::level::info);
  logger->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(logger);
}

}  // namespace beanstalkd
