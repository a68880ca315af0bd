#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "reply.h"

namespace bench {

// One client connection: a non-blocking socket with an output buffer that sessions append
// commands to, and an input buffer that replies are parsed from. It does no scheduling itself;
// a Worker decides when to read and write, and the blocking helpers serve set-up steps.
class Connection {
 public:
  // Takes ownership of a connected, non-blocking socket.
  explicit Connection(int fd);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  int fd() const { return fd_; }

  // Commands waiting to be sent. Appending does not send; flush() does.
  std::string& output() { return output_; }
  void append(std::string_view bytes) { output_.append(bytes); }
  bool has_output() const { return sent_ < output_.size(); }

  enum class Io : std::uint8_t { ok, closed, error };

  // Sends as much of the output as the socket takes without blocking.
  Io flush();
  // Reads once what the socket has; `closed` when the server has closed the connection.
  Io receive();
  // Takes the next complete reply out of the input buffer. The views in `reply` stay valid until
  // the next receive().
  ParseStatus next_reply(Reply& reply);

  // Blocking variants for set-up and probes, bounded by deadline_ns. They throw BenchError on
  // failure or timeout.
  void flush_until(std::int64_t deadline_ns);
  Reply wait_reply(std::int64_t deadline_ns);
  // Sends `command` (without CRLF), waits for its reply and checks that it is of kind `expected`.
  Reply request(std::string_view command, ReplyKind expected, std::int64_t deadline_ns);

 private:
  void wait_for(short events, std::int64_t deadline_ns);

  int fd_;
  std::string output_;
  std::size_t sent_ = 0;
  // Allocated on first read so that thousands of idle connections cost the benchmark little.
  std::unique_ptr<char[]> input_;
  std::size_t input_capacity_ = 0;
  std::size_t input_begin_ = 0;
  std::size_t input_end_ = 0;
};

}  // namespace bench
