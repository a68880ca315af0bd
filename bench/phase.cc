#include "phase.h"

#include <algorithm>
#include <exception>
#include <functional>
#include <memory>
#include <thread>

#include "bench_error.h"
#include "clock.h"
#include "worker.h"

namespace bench {

PhaseResult run_phase(const std::vector<Session*>& sessions, const PhaseLimits& limits) {
  if (sessions.empty()) return PhaseResult{};
  RunState run(limits.job_limit, limits.stop_issuing_ns, limits.hard_deadline_ns);
  const std::size_t threads = std::clamp<std::size_t>(limits.threads, 1, sessions.size());

  // The pacer is per worker, so each worker gets the share of the rate that matches its share
  // of the paced sessions.
  std::vector<std::size_t> paced_per_worker(threads, 0);
  std::size_t paced_total = 0;
  for (std::size_t i = 0; i < sessions.size(); ++i) {
    if (sessions[i]->paced()) {
      ++paced_per_worker[i % threads];
      ++paced_total;
    }
    if (sessions[i]->is_producer()) run.add_producer();
  }
  std::vector<std::unique_ptr<Worker>> workers;
  for (std::size_t w = 0; w < threads; ++w) {
    const double share = paced_total == 0 ? 0
                                          : limits.rate * static_cast<double>(paced_per_worker[w]) /
                                                static_cast<double>(paced_total);
    workers.push_back(std::make_unique<Worker>(run, share));
  }
  for (std::size_t i = 0; i < sessions.size(); ++i) workers[i % threads]->add(*sessions[i]);

  const std::int64_t start = now_ns();
  // A worker that cannot even set up its loop fails the run like any other failure, instead of
  // escaping a thread and terminating the program.
  const auto run_worker = [&run, start](Worker& worker) {
    try {
      worker.run(start);
    } catch (const std::exception& error) {
      run.fail(error.what());
    }
  };
  if (threads == 1) {
    run_worker(*workers.front());
  } else {
    std::vector<std::jthread> running;
    for (auto& worker : workers) running.emplace_back(run_worker, std::ref(*worker));
  }
  const std::int64_t end = now_ns();

  if (const auto failure = run.failure()) throw BenchError(*failure);

  PhaseResult result;
  std::int64_t last_completion = 0;
  for (const auto& worker : workers) {
    const WorkerContext& context = worker->context();
    result.completed += context.completed;
    result.latency.merge(context.latency);
    last_completion = std::max(last_completion, context.last_completion_ns);
  }
  result.seconds = ns_to_seconds((result.completed > 0 ? last_completion : end) - start);
  return result;
}

}  // namespace bench
