#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "histogram.h"

namespace bench {

// The outcome of one benchmark run, in the three output forms.
struct Report {
  std::string scenario;
  std::string label;
  std::string server;
  std::size_t connections = 0;
  std::size_t pipeline = 0;
  std::size_t body_size = 0;
  std::size_t tubes = 0;
  std::size_t threads = 0;
  double target_rate = 0;

  std::int64_t count = 0;  // what `unit` counts: jobs, cycles, connections
  double seconds = 0;
  double throughput = 0;
  std::string unit = "jobs/s";
  Histogram latency;  // empty when the scenario measures none

  // Scenario-specific figures (server memory, rates of untimed steps), in output order.
  std::vector<std::pair<std::string, double>> extras;
  // A human-readable sentence about the extras, for the human line.
  std::string note;

  void add(std::string key, double value) { extras.emplace_back(std::move(key), value); }
};

// One line: throughput, latency percentiles, the settings, the note.
std::string human_line(const Report& report);
// One JSON object on one line, latencies in microseconds.
std::string json_line(const Report& report);
// CSV with the same fields as the JSON, in the same order.
std::string csv_header(const Report& report);
std::string csv_line(const Report& report);

}  // namespace bench
