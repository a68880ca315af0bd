#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "endpoint.h"
#include "options.h"
#include "report.h"
#include "server_probe.h"

namespace bench {

// What a scenario runs against.
struct ScenarioEnv {
  const Options& options;
  const Endpoint& endpoint;
  ServerProbe& probe;
  std::int64_t deadline_ns;  // hard limit of the whole run
  std::size_t fd_limit;      // open files this process may have

  // A tube name unique to this process ("<prefix>.<pid>.<role>.<index>"), so that runs never see
  // each other's jobs even when one was interrupted.
  std::string tube(std::string_view role, std::size_t index) const;
};

using ScenarioFunction = Report (*)(ScenarioEnv& env);

struct ScenarioInfo {
  std::string_view name;
  std::string_view summary;
  ScenarioFunction run;
};

std::span<const ScenarioInfo> all_scenarios();
// nullptr when there is no such scenario.
const ScenarioInfo* find_scenario(std::string_view name);
std::vector<std::string> scenario_names();

// The scenarios, one file each in scenarios/.
Report run_put(ScenarioEnv& env);
Report run_drain(ScenarioEnv& env);
Report run_cycle(ScenarioEnv& env);
Report run_deliver(ScenarioEnv& env);
Report run_spray(ScenarioEnv& env);
Report run_connections(ScenarioEnv& env);
Report run_memory(ScenarioEnv& env);

}  // namespace bench
