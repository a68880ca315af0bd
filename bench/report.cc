#include "report.h"

#include <cmath>
#include <cstdio>
#include <string_view>

namespace bench {
namespace {

constexpr double kNanosPerMicro = 1000.0;

// Integers print without decimals (counts, KiB); other values with three.
std::string number(double value) {
  char text[64];
  if (std::isfinite(value) && value == std::floor(value) && std::fabs(value) < 1e15) {
    std::snprintf(text, sizeof text, "%.0f", value);
  } else {
    std::snprintf(text, sizeof text, "%.3f", value);
  }
  return text;
}

std::string fixed(double value, int decimals) {
  char text[64];
  std::snprintf(text, sizeof text, "%.*f", decimals, value);
  return text;
}

// 734 us, 5.31 ms, 1.20 s: three significant digits are what a reader compares.
std::string duration(std::int64_t ns) {
  const auto value = static_cast<double>(ns);
  if (ns < 1'000'000) return fixed(value / 1e3, ns < 10'000 ? 1 : 0) + " us";
  if (ns < 1'000'000'000) return fixed(value / 1e6, 2) + " ms";
  return fixed(value / 1e9, 2) + " s";
}

double micros(std::int64_t ns) {
  return static_cast<double>(ns) / kNanosPerMicro;
}

std::string json_string(std::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\u%04x", static_cast<unsigned>(c));
      out += escaped;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string csv_field(std::string_view text) {
  if (text.find_first_of(",\"\n") == std::string_view::npos) return std::string(text);
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

// The record as ordered (name, value) pairs; text values are marked so JSON can quote them.
struct Field {
  std::string name;
  std::string value;
  bool is_text;
};

std::vector<Field> fields(const Report& r) {
  std::vector<Field> out = {
      {"scenario", r.scenario, true},
      {"label", r.label, true},
      {"server", r.server, true},
      {"connections", number(static_cast<double>(r.connections)), false},
      {"pipeline", number(static_cast<double>(r.pipeline)), false},
      {"body_size", number(static_cast<double>(r.body_size)), false},
      {"tubes", number(static_cast<double>(r.tubes)), false},
      {"threads", number(static_cast<double>(r.threads)), false},
      {"target_rate", number(r.target_rate), false},
      {"count", number(static_cast<double>(r.count)), false},
      {"seconds", fixed(r.seconds, 6), false},
      {"throughput", fixed(r.throughput, 1), false},
      {"unit", r.unit, true},
      {"latency_samples", number(static_cast<double>(r.latency.count())), false},
  };
  const std::pair<const char*, double> percentiles[] = {
      {"p50_us", 0.5}, {"p90_us", 0.9}, {"p99_us", 0.99}, {"p999_us", 0.999}};
  for (const auto& [name, q] : percentiles) {
    out.push_back({name, fixed(micros(r.latency.quantile(q)), 1), false});
  }
  out.push_back({"max_us", fixed(micros(r.latency.max()), 1), false});
  out.push_back({"mean_us", fixed(r.latency.mean() / kNanosPerMicro, 1), false});
  for (const auto& [name, value] : r.extras) out.push_back({name, number(value), false});
  return out;
}

}  // namespace

std::string human_line(const Report& r) {
  std::string noun = r.unit.substr(0, r.unit.find('/'));
  std::string line = r.scenario + ": " + number(static_cast<double>(r.count)) + " " + noun +
                     " in " + fixed(r.seconds, 3) + " s, " + fixed(r.throughput, 0) + " " + r.unit;
  if (r.latency.count() > 0) {
    line += " | latency p50 " + duration(r.latency.quantile(0.5)) + ", p99 " +
            duration(r.latency.quantile(0.99)) + ", p99.9 " + duration(r.latency.quantile(0.999)) +
            ", max " + duration(r.latency.max());
  }
  line += " | c=" + std::to_string(r.connections) + " P=" + std::to_string(r.pipeline) +
          " d=" + std::to_string(r.body_size) + " tubes=" + std::to_string(r.tubes);
  if (r.target_rate > 0) line += " rate=" + number(r.target_rate);
  if (r.threads > 1) line += " threads=" + std::to_string(r.threads);
  if (!r.note.empty()) line += " | " + r.note;
  return line;
}

std::string json_line(const Report& r) {
  std::string line = "{";
  bool first = true;
  for (const Field& field : fields(r)) {
    if (!first) line += ",";
    first = false;
    line +=
        json_string(field.name) + ":" + (field.is_text ? json_string(field.value) : field.value);
  }
  return line + "}";
}

std::string csv_header(const Report& r) {
  std::string line;
  for (const Field& field : fields(r)) {
    if (!line.empty()) line += ",";
    line += field.name;
  }
  return line;
}

std::string csv_line(const Report& r) {
  std::string line;
  bool first = true;
  for (const Field& field : fields(r)) {
    if (!first) line += ",";
    first = false;
    line += csv_field(field.value);
  }
  return line;
}

}  // namespace bench
