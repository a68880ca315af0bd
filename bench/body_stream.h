#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <thread>

#include "endpoint.h"

namespace bench {

// A background client that moves large bodies through the server while a scenario measures the
// others: on its own thread and connection it loops put, reserve, delete of one body of the given
// size on its own tube, until stopped. It answers the question "does one client streaming 64 MiB
// stall everybody else?"; it is not counted in the scenario's throughput or latency.
class BodyStream {
 public:
  BodyStream(const Endpoint& endpoint, std::string tube, std::size_t body_size,
             std::int64_t deadline_ns);
  ~BodyStream();
  BodyStream(const BodyStream&) = delete;
  BodyStream& operator=(const BodyStream&) = delete;

  // Connects and sets up the tube on the calling thread (throws BenchError), then starts looping.
  void start();
  // Stops after the current command and joins; throws BenchError if the loop failed.
  void stop();

  std::int64_t jobs() const { return jobs_; }  // whole cycles completed
  // Body bytes through the server: each cycle sends the body in and reads it back out.
  std::int64_t bytes() const { return jobs_ * 2 * static_cast<std::int64_t>(body_size_); }
  double seconds() const { return seconds_; }

 private:
  void loop();
  void one_cycle(const std::string& body);
  void send_all(const char* data, std::size_t size);
  std::size_t receive(char* buffer, std::size_t capacity);
  std::string read_line();
  void skip(std::size_t size);

  const Endpoint& endpoint_;
  const std::string tube_;
  const std::size_t body_size_;
  const std::int64_t deadline_ns_;
  int fd_ = -1;
  std::string input_;  // received, not yet consumed
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::string error_;  // set by the loop before it ends
  std::int64_t jobs_ = 0;
  double seconds_ = 0;
};

}  // namespace bench
