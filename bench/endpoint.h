#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace bench {

// Where the server listens: "host:port", "[v6-address]:port", "host" (port 11300) or
// "unix:PATH". The address is resolved once, so opening thousands of connections does not repeat
// name lookups.
class Endpoint {
 public:
  // Throws BenchError when the text cannot be parsed or the host cannot be resolved.
  static Endpoint parse(std::string_view text);

  // Opens a connected, non-blocking socket (with TCP_NODELAY for TCP) and returns its descriptor.
  // Throws BenchError on failure or when the connection is not up by deadline_ns.
  int connect(std::int64_t deadline_ns) const;

  const std::string& text() const { return text_; }

 private:
  Endpoint() = default;

  std::string text_;
  sockaddr_storage address_{};
  socklen_t address_length_ = 0;
};

}  // namespace bench
