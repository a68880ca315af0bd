#include "scenario.h"

#include <unistd.h>

#include <array>

namespace bench {
namespace {

constexpr std::array<ScenarioInfo, 7> kScenarios{{
    {"put", "keep --pipeline puts in flight per connection until --jobs are in", run_put},
    {"drain", "pre-fill --jobs (untimed), then reserve-with-timeout 0 + delete them all",
     run_drain},
    {"cycle", "put, reserve, delete with one command in flight; latency per cycle", run_cycle},
    {"deliver",
     "consumers block in reserve, a producer puts at --rate; latency from put to delivery",
     run_deliver},
    {"spray", "one consumer per tube (--tubes), producers spread puts over all tubes", run_spray},
    {"connections", "hold --connections idle connections; server memory per connection",
     run_connections},
    {"memory", "put --jobs and hold them; server memory per job, and after deleting them",
     run_memory},
}};

}  // namespace

std::string ScenarioEnv::tube(std::string_view role, std::size_t index) const {
  return options.tube_prefix + "." + std::to_string(::getpid()) + "." + std::string(role) + "." +
         std::to_string(index);
}

std::span<const ScenarioInfo> all_scenarios() {
  return kScenarios;
}

const ScenarioInfo* find_scenario(std::string_view name) {
  for (const ScenarioInfo& info : kScenarios) {
    if (info.name == name) return &info;
  }
  return nullptr;
}

std::vector<std::string> scenario_names() {
  std::vector<std::string> names;
  for (const ScenarioInfo& info : kScenarios) names.emplace_back(info.name);
  return names;
}

}  // namespace bench
