#include "server_probe.h"

#include <charconv>
#include <fstream>
#include <thread>

#include "bench_error.h"
#include "clock.h"

namespace bench {
namespace {

std::int64_t to_number(std::string_view text) {
  std::int64_t value = -1;
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  std::from_chars(text.data(), text.data() + text.size(), value);
  return value;
}

}  // namespace

ServerProbe::ServerProbe(const Endpoint& endpoint, std::int64_t given_pid, std::int64_t deadline_ns)
    : control_(std::make_unique<Connection>(endpoint.connect(deadline_ns))), pid_(given_pid) {
  if (pid_ > 0) {
    if (rss_kib() < 0) throw BenchError("cannot read /proc/" + std::to_string(pid_) + "/status");
    return;
  }
  // A server in another pid namespace (a container) reports a pid that means something else
  // here; such a setup needs --server-pid.
  const auto values = stats(deadline_ns);
  const auto found = values.find("pid");
  if (found != values.end()) pid_ = to_number(found->second);
  if (pid_ > 0 && rss_kib() < 0) pid_ = 0;
}

std::map<std::string, std::string, std::less<>> ServerProbe::stats(std::int64_t deadline_ns) {
  const Reply reply = control_->request("stats", ReplyKind::ok, deadline_ns);
  std::map<std::string, std::string, std::less<>> values;
  std::string_view yaml = reply.body;
  while (!yaml.empty()) {
    const std::size_t end = yaml.find('\n');
    const std::string_view line = yaml.substr(0, end);
    yaml = end == std::string_view::npos ? std::string_view() : yaml.substr(end + 1);
    const std::size_t colon = line.find(": ");
    if (colon == std::string_view::npos) continue;  // the "---" header
    std::string_view value = line.substr(colon + 2);
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
      value = value.substr(1, value.size() - 2);
    }
    values.emplace(std::string(line.substr(0, colon)), std::string(value));
  }
  return values;
}

std::int64_t ServerProbe::stat(std::string_view key, std::int64_t deadline_ns) {
  const auto values = stats(deadline_ns);
  const auto found = values.find(key);
  if (found == values.end()) throw BenchError("stats has no '" + std::string(key) + "'");
  return to_number(found->second);
}

void ServerProbe::wait_for_connections(std::int64_t count, std::int64_t deadline_ns) {
  for (;;) {
    const std::int64_t current = stat("current-connections", deadline_ns);
    if (current >= count) return;
    if (now_ns() >= deadline_ns) {
      throw BenchError("the server reports " + std::to_string(current) + " connections, not " +
                       std::to_string(count));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

std::int64_t ServerProbe::read_status_field(std::string_view field) const {
  if (pid_ <= 0) return -1;
  std::ifstream status("/proc/" + std::to_string(pid_) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.starts_with(field)) return to_number(std::string_view(line).substr(field.size()));
  }
  return -1;
}

}  // namespace bench
