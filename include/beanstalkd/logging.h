// Log output on standard error, in one of two styles: for a terminal or a
// file, lines with the server's own time stamps; for systemd's journal,
// lines with an sd-daemon priority prefix ("<3>" for an error, see
// sd-daemon(3)) and no time stamp, since the journal records its own.
#pragma once

#include <memory>

#include <spdlog/common.h>
#include <spdlog/formatter.h>

namespace beanstalkd {

enum class LogStyle { Plain, Journal };

// Journal when `journal_stream` (the JOURNAL_STREAM variable systemd sets:
// "DEVICE:INODE" in decimal, or nullptr when unset) names the file open as
// `fd`; Plain otherwise, e.g. when the service's standard error was
// redirected elsewhere and the variable merely inherited (systemd.exec(5)).
LogStyle log_style_for(const char* journal_stream, int fd);

// The syslog priority sd-daemon(3) prefixes give a spdlog level.
int syslog_priority(spdlog::level::level_enum level);

// Formats each log line in `style`. A journal message holding newlines is
// written as several lines, each with the prefix, so none loses its priority.
std::unique_ptr<spdlog::formatter> make_log_formatter(LogStyle style);

// Makes the default logger write to standard error, styled for where it
// goes, at the level -V asks for (0: info, 1: debug, 2 or more: trace).
void setup_logging(int verbosity);

}  // namespace beanstalkd
