// Running one differential script: the same bytes go to the server under
// test ($BEANSTALKD_BIN) and to the reference ($BEANSTALKD_REFERENCE), each on
// a fresh server of its own, and the complete reply streams must be equal
// after masking the values that differ between any two servers (pid, uptime,
// rusage, id, hostname, os, platform, version in `stats`) and removing YAML
// double quotes (1.12 quotes only `version`, 1.13 all strings).
//
// A script is a list of steps:
//   S("bytes")        send on connection 0        S(1, "bytes") on connection 1
//   R(conn, "bytes")  send, then read exactly one reply (a line, and the body
//                     that an OK, RESERVED or FOUND line announces) (max 3 s)
//   Sleep(ms)         pause
//   Sync(conn, n)     wait until n more reply lines arrived on conn (max 3 s)
//   Signal(SIGUSR1)   signal the server process
//   Close(conn)       close a connection (what it received so far is kept)
// Connections are opened in order of first use. When the script ends, each
// connection (in order) half-closes and is read until the server closes it.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace bbt {

struct Step {
  enum class Kind { Send, Request, Sleep, Sync, Signal, Close } kind = Kind::Send;
  int conn = 0;
  std::string data;
  int amount = 0;  // ms for Sleep, lines for Sync, signal number for Signal
};

inline Step S(std::string data) {
  return Step{Step::Kind::Send, 0, std::move(data), 0};
}
inline Step S(int conn, std::string data) {
  return Step{Step::Kind::Send, conn, std::move(data), 0};
}
inline Step R(int conn, std::string data) {
  return Step{Step::Kind::Request, conn, std::move(data), 0};
}
inline Step Sleep(int ms) {
  return Step{Step::Kind::Sleep, 0, {}, ms};
}
inline Step Sync(int conn, int lines) {
  return Step{Step::Kind::Sync, conn, {}, lines};
}
inline Step Signal(int sig) {
  return Step{Step::Kind::Signal, 0, {}, sig};
}
inline Step Close(int conn) {
  return Step{Step::Kind::Close, conn, {}, 0};
}

struct Case {
  std::string name;
  std::vector<Step> steps;
  std::vector<std::string> args = {};
};

// Names the case in gtest's output instead of dumping its bytes.
void PrintTo(const Case& tc, std::ostream* os);

// Runs `tc` on both servers at once and expects equal normalised replies;
// skips when the reference binary is missing.
void expect_same_replies_as_reference(const Case& tc);

// Renders a reply stream one reply per line, bodies indented, with control
// bytes escaped and YAML normalised, so a mismatch reads well in gtest's diff.
std::string normalise_stream(const std::string& raw);

// The script in one line, for failure messages.
std::string describe_script(const Case& tc);

}  // namespace bbt
