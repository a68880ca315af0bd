#include "beanstalkd/server/server.h"

#include <arpa/inet.h>
#include <grp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pwd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <new>
#include <random>

#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>

#include "beanstalkd/server/connection.h"
#include "beanstalkd/server/metrics_endpoint.h"
#include "beanstalkd/vector_room.h"
#include "beanstalkd/version.h"

namespace beanstalkd::server {

namespace {

constexpr int kAcceptsPerEvent = 64;
// The most unwritten log bytes that are written ahead of the turn's end so
// that a connection's replies can leave early (send_replies_early): a few
// dozen records.
constexpr std::size_t kEarlyLogWriteMaxBytes = 4096;

std::string random_instance_id() {
  std::random_device rd;
  std::uint64_t v = (static_cast<std::uint64_t>(rd()) << 32) | rd();
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

// libevent's own messages, which it would print raw to standard error, go
// through the server's log with its timestamps and levels.
void log_libevent_message(int severity, const char* message) {
  switch (severity) {
    case EVENT_LOG_DEBUG:
      spdlog::debug("libevent: {}", message);
      break;
    case EVENT_LOG_MSG:
      spdlog::info("libevent: {}", message);
      break;
    case EVENT_LOG_WARN:
      spdlog::warn("libevent: {}", message);
      break;
    default:
      spdlog::error("libevent: {}", message);
      break;
  }
}

event_base* new_event_base() {
  event_set_log_callback(log_libevent_message);
  return event_base_new();
}

std::string peer_name(const sockaddr_storage& ss) {
  char host[INET6_ADDRSTRLEN] = "unix";
  unsigned port = 0;
  if (ss.ss_family == AF_INET) {
    const auto& in = reinterpret_cast<const sockaddr_in&>(ss);
    inet_ntop(AF_INET, &in.sin_addr, host, sizeof host);
    port = ntohs(in.sin_port);
  } else if (ss.ss_family == AF_INET6) {
    const auto& in6 = reinterpret_cast<const sockaddr_in6&>(ss);
    inet_ntop(AF_INET6, &in6.sin6_addr, host, sizeof host);
    port = ntohs(in6.sin6_port);
  }
  return std::string(host) + ":" + std::to_string(port);
}

}  // namespace

Server::Server(Options options)
    : options_(std::move(options)),
      store_(clock_),
      base_(new_event_base()),
      idle_poll_(static_cast<Nanos>(options_.busy_poll_us) * 1000) {
  started_at_ = clock_.now();
  instance_id_ = random_instance_id();
  utsname u{};
  if (uname(&u) == 0) {
    hostname_ = u.nodename;
    os_ = u.version;
    platform_ = u.machine;
  }
}

Server::~Server() {
  // Connections detach from the store before it goes, and the log before
  // both.
  connections_.clear();
  closed_.clear();
  if (sync_event_) event_free(sync_event_);
  wal_.reset();
  for (event* ev : signal_events_) event_free(ev);
  if (timer_event_) event_free(timer_event_);
  if (accept_event_) event_free(accept_event_);
  if (accept_resume_event_) event_free(accept_resume_event_);
  if (listen_socket_.fd >= 0) close(listen_socket_.fd);
  if (!listen_socket_.unix_path.empty()) unlink(listen_socket_.unix_path.c_str());
  metrics_.reset();
  hangup_watch_.close();
  event_base_free(base_);
}

// Each connection is a descriptor; the default soft limit (often 1024) would
// cap the server far below what the machine allows.
void raise_descriptor_limit() {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0 || lim.rlim_cur >= lim.rlim_max) return;
  const rlim_t before = lim.rlim_cur;
  lim.rlim_cur = lim.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &lim) == 0) {
    spdlog::debug("raised the open-file limit from {} to {}", before, lim.rlim_cur);
  }
}

bool Server::open() {
  raise_descriptor_limit();
  std::string error;
  listen_socket_ = inherited_listen_socket(error);
  if (!error.empty()) spdlog::warn("{}", error);
  if (listen_socket_.fd < 0) {
    if (!error.empty()) return false;
    listen_socket_ = open_listen_socket(options_.listen_address, options_.port, error);
    if (listen_socket_.fd < 0) {
      spdlog::error("{}", error);
      return false;
    }
  } else {
    spdlog::info("using the socket passed by systemd; -l and -p are ignored");
  }
  if (!drop_privileges()) return false;
  // Listening first, replaying second: clients may connect while a large log
  // is read, and are served once it is done.
  if (!options_.binlog_dir.empty() && !open_wal()) return false;
  if (!options_.metrics_listen.empty()) {
    metrics_ = std::make_unique<MetricsEndpoint>(*this);
    std::string metrics_error;
    if (!metrics_->start(options_.metrics_listen, metrics_error)) {
      spdlog::error("{}", metrics_error);
      return false;
    }
  }

  if (!hangup_watch_.open(base_)) {
    spdlog::error("cannot create the epoll set that watches for hang-ups: {}",
                  std::strerror(errno));
    return false;
  }
  accept_event_ = event_new(base_, listen_socket_.fd, EV_READ | EV_PERSIST, on_accept_event, this);
  accept_resume_event_ = evtimer_new(base_, on_accept_resume, this);
  event_add(accept_event_, nullptr);
  timer_event_ = evtimer_new(base_, on_timer_event, this);
  for (int sig : {SIGUSR1, SIGTERM, SIGINT}) {
    event* ev = evsignal_new(base_, sig, on_signal_event, this);
    event_add(ev, nullptr);
    signal_events_.push_back(ev);
  }
  return true;
}

bool Server::open_wal() {
  wal::WalOptions wo;
  wo.dir = options_.binlog_dir;
  wo.file_size = options_.binlog_size;
  wo.policy = options_.no_fsync        ? wal::SyncPolicy::Never
              : options_.fsync_ms == 0 ? wal::SyncPolicy::Always
                                       : wal::SyncPolicy::Interval;
  wo.sync_interval = static_cast<Nanos>(options_.fsync_ms) * 1000 * 1000;
  wal_ = std::make_unique<wal::Wal>(file_system_, wo);
  spdlog::info("opening the write-ahead log in {}", wo.dir);
  std::string error;
  wal::RecoveryReport report;
  if (!wal_->open(store_, error, report)) {
    spdlog::error("{}", error);
    return false;
  }
  spdlog::info(
      "recovered {} jobs from {} records in {} files in {:.3f} s{}{}{}", report.jobs,
      report.records, report.files, report.seconds,
      report.imported_jobs
          ? fmt::format(" ({} imported from the reference binlog)", report.imported_jobs)
          : "",
      report.damaged_files
          ? fmt::format("; {} damaged files kept with a .damaged suffix", report.damaged_files)
          : "",
      report.missing_files ? fmt::format("; {} log files missing (see above)", report.missing_files)
                           : "");
  trimmer_.trim_now();
  if (wal_->sync_event_fd() >= 0) {
    sync_event_ =
        event_new(base_, wal_->sync_event_fd(), EV_READ | EV_PERSIST, on_sync_event, this);
    event_add(sync_event_, nullptr);
  }
  return true;
}

void Server::on_sync_event(evutil_socket_t, short, void* self) {
  auto* s = static_cast<Server*>(self);
  s->wal_->on_sync_done();
  s->release_held();
}

void Server::hold(Connection* connection) {
  if (connection->hold_sequence_ <= reply_watermark()) {
    // Only its record's write is missing: rare (a failed write), so a list.
    if (!connection->held_unwritten_) held_unwritten_.push_back(connection);
    connection->held_unwritten_ = true;
    return;
  }
  if (connection->held_index_ == kNotInHeap) {
    held_.push(connection);
  } else {
    held_.update(connection);
  }
}

// Only the replies the log now lets go (durable, or written) go out: a sync completes
// many times a second, and a scan of every held connection each time would
// cost O(connections) per sync.
void Server::release_held() {
  const std::uint64_t watermark = reply_watermark();
  while (Connection* c = held_.top()) {
    if (c->hold_sequence_ > watermark) break;
    held_.pop();
    c->mark_dirty();
  }
  if (held_unwritten_.empty()) return;
  const std::uint64_t written = written_watermark();
  std::erase_if(held_unwritten_, [written](Connection* c) {
    if (c->written_hold_ > written) return false;
    c->held_unwritten_ = false;
    c->mark_dirty();
    return true;
  });
}

bool Server::drop_privileges() {
  if (options_.user.empty()) return true;
  passwd* pw = getpwnam(options_.user.c_str());
  if (!pw) {
    spdlog::error("no such user: {}", options_.user);
    return false;
  }
  if (setgid(pw->pw_gid) != 0 || initgroups(pw->pw_name, pw->pw_gid) != 0 ||
      setuid(pw->pw_uid) != 0) {
    spdlog::error("cannot become user {}: {}", options_.user, std::strerror(errno));
    return false;
  }
  spdlog::info("running as user {}", options_.user);
  return true;
}

int Server::run() {
  std::string durability = "no write-ahead log (jobs live in memory only)";
  if (wal_) {
    durability =
        "write-ahead log in " + options_.binlog_dir + ", " +
        (options_.no_fsync        ? std::string("never synced (-F)")
         : options_.fsync_ms == 0 ? std::string("synced before every reply (-f 0)")
                                  : "synced every " + std::to_string(options_.fsync_ms) + " ms");
  }
  spdlog::info("beanstalkd {} listening on {}; max job size {} bytes; {}", kVersion,
               listen_socket_.description, options_.max_job_size, durability);
  for (const std::string& w : options_.warnings) spdlog::warn("{}", w);
  // Under systemd (Type=notify) this says start-up is over; elsewhere a no-op.
  sd_notifyf(0, "READY=1\nSTATUS=serving on %s\nMAINPID=%d", listen_socket_.description.c_str(),
             static_cast<int>(getpid()));
  while (!stopping_) {
    wait_for_events();
    end_of_turn();
  }
  return 0;
}

// One libevent turn. Under load (see IdlePoll) it first polls without
// blocking, for at most the current window, and returns as soon as some
// connection has replies to write.
void Server::wait_for_events() {
  if (idle_poll_.max_window() == 0) {  // the default: just sleep
    event_base_loop(base_, EVLOOP_ONCE);
    return;
  }
  Nanos started = clock_.now();
  // What the previous turn cost: its waiting, then its work until now.
  idle_poll_.record_turn(turn_idle_, started - turn_started_);
  turn_started_ = started;
  woke_at_ = 0;
  if (Nanos window = idle_poll_.window(); window > 0) {
    Nanos until = started + window;
    do {
      event_base_loop(base_, EVLOOP_NONBLOCK);
      if (woke_at_ != 0 || !dirty_.empty() || stopping_) {
        turn_idle_ = (woke_at_ != 0 ? woke_at_ : clock_.now()) - started;
        return;
      }
    } while (clock_.now() < until);
  }
  Nanos blocked_at = clock_.now();
  event_base_loop(base_, EVLOOP_ONCE);
  Nanos woke = woke_at_ != 0 ? woke_at_ : clock_.now();
  idle_poll_.blocked_for(woke - blocked_at);
  turn_idle_ = woke - started;
}

// After every libevent turn: write each connection's replies once, free the
// connections that closed, and re-arm the store's timer.
void Server::end_of_turn() {
  // The log is written before any reply leaves (and, with -f 0, replies
  // reporting changes wait for the sync: see Connection::flush).
  if (wal_) wal_->flush();
  flush_dirty();
  for (Connection* c : closed_) {
    std::size_t slot = c->slot_;
    connections_[slot].swap(connections_.back());
    connections_[slot]->slot_ = slot;
    connections_.pop_back();
  }
  closed_.clear();
  if (trimmer_.due(store_.job_count())) {
    store_.give_back_room();
    trimmer_.trim_now();
  }
  arm_timer();
}

void Server::arm_timer() {
  Nanos next = store_.next_timer();
  if (wal_) next = std::min(next, wal_->next_deadline());
  if (next == timer_armed_for_) return;
  timer_armed_for_ = next;
  if (next == kNoTimer) {
    event_del(timer_event_);
    return;
  }
  Nanos wait = std::max<Nanos>(0, next - clock_.now());
  // Round up to whole microseconds so the timer never fires just early.
  Nanos micros = (wait + 999) / 1000;
  timeval tv{static_cast<time_t>(micros / 1000000), static_cast<suseconds_t>(micros % 1000000)};
  event_add(timer_event_, &tv);
}

void Server::on_timer_event(evutil_socket_t, short, void* self) {
  auto* s = static_cast<Server*>(self);
  s->timer_armed_for_ = kNoTimer;
  s->store_.process_timers();
  if (s->wal_) {
    bool was_healthy = s->wal_->healthy();
    s->wal_->on_timer();
    // Recovered from a failure: replies held for durability can go now.
    if (!was_healthy && s->wal_->healthy()) s->release_held();
  }
}

// A connection has run its commands: send the replies now rather than after
// the rest of the turn, so its client (often on the other CPU) works on them
// while the loop reads the next connection. The log is written first (a
// reply never reports a change before its record is written), when that is
// a few records: a client waiting on one reply gains far more than the extra
// pwrite costs (with -b, cycle p50 125 -> 105 us). Pipelined batches wait
// for the end of the turn, where one write of the log precedes them all
// (writing each connection's early cost put and drain 4-6%).
void Server::send_replies_early() {
  if (dirty_.empty()) return;
  if (wal_ && wal_->has_unwritten()) {
    if (wal_->unwritten_bytes() > kEarlyLogWriteMaxBytes) return;
    wal_->flush();
  }
  flush_dirty();
}

void Server::flush_dirty() {
  for (std::size_t i = 0; i < dirty_.size(); ++i) dirty_[i]->flush();
  dirty_.clear();
}

void Server::mark_dirty(Connection* connection) {
  dirty_.push_back(connection);
}

// Each list of connections holds a connection at most once, so with room
// for one more in each, made here, no later push can fail for lack of
// memory: one failing in mark_dirty() would leave a connection marked dirty
// that is never flushed, and one in hold() or connection_closed() would
// end the loop.
void Server::make_room_for_connection() {
  const std::size_t n = connections_.size() + 1;
  make_room(connections_, n);
  make_room(dirty_, n);
  make_room(closed_, n);
  make_room(held_unwritten_, n);
  held_.make_room(n);
}

void Server::connection_closed(Connection* connection) {
  // A client can reset its connection while a reply waits for the log: the
  // connection is freed at the end of this turn, so it leaves the heap now.
  if (connection->held_index_ != kNotInHeap) held_.remove(connection);
  if (connection->held_unwritten_) std::erase(held_unwritten_, connection);
  connection->held_unwritten_ = false;
  if (!stopping_) closed_.push_back(connection);
}

// --- accepting -------------------------------------------------------------------

void Server::on_accept_event(evutil_socket_t, short, void* self) {
  static_cast<Server*>(self)->accept_connections();
}

void Server::on_accept_resume(evutil_socket_t, short, void* self) {
  auto* s = static_cast<Server*>(self);
  if (s->stopping_) return;
  event_add(s->accept_event_, nullptr);
  // Try at once: if nobody is left waiting, the listener never becomes
  // readable, and only an accept() answering EAGAIN ends the episode.
  s->accept_connections();
}

void Server::pause_accepting() {
  event_del(accept_event_);
  event_add(accept_resume_event_, &kAcceptBackoff);
}

// Out of descriptors (or memory), accepts pause and retry every 100 ms. The
// log says so once, with the limit and what to raise, then once a minute
// while it lasts (FailureEpisode), and once more when no connection is left
// waiting, rather than for every slot a closing client frees.
void Server::note_accept_starved(int error) {
  const Nanos now = clock_.now();
  ++accept_failures_;
  switch (accept_episode_.failed(now)) {
    case FailureEpisode::Report::Start: {
      rlimit limit{};
      getrlimit(RLIMIT_NOFILE, &limit);
      spdlog::warn(
          "cannot accept connections: {} ({} connections open, open-file limit {}); "
          "retrying every 100 ms{}",
          std::strerror(error), connections_.size(), limit.rlim_cur,
          error == EMFILE   ? "; raise the limit with ulimit -n or systemd's LimitNOFILE="
          : error == ENFILE ? "; the system-wide limit is fs.file-max"
                            : "");
      break;
    }
    case FailureEpisode::Report::Reminder:
      spdlog::warn("still cannot accept connections after {} s: {} ({} connections open)",
                   accept_episode_.lasted(now) / kNanosPerSecond, std::strerror(error),
                   connections_.size());
      break;
    case FailureEpisode::Report::Quiet:
      break;
  }
}

void Server::note_accept_recovered() {
  const Nanos lasted = accept_episode_.end(clock_.now());
  spdlog::info("accepting connections again after {:.1f} s ({} retries); none left waiting",
               static_cast<double>(lasted) / kNanosPerSecond, accept_episode_.retries());
}

void Server::note_out_of_memory(std::string_view what) {
  const Nanos now = clock_.now();
  if (emergency_memory_.release()) emergency_memory_tried_at_ = now;
  switch (memory_episode_.failed(now)) {
    case FailureEpisode::Report::Start:
      spdlog::warn(
          "out of memory: a {} was refused ({} jobs held); puts are refused until memory is "
          "freed, while reserves and deletes go on",
          what, store_.job_count());
      break;
    case FailureEpisode::Report::Reminder:
      spdlog::warn("still out of memory after {} s: {} commands refused ({} jobs held)",
                   memory_episode_.lasted(now) / kNanosPerSecond, memory_episode_.retries() + 1,
                   store_.job_count());
      break;
    case FailureEpisode::Report::Quiet:
      break;
  }
}

bool Server::puts_have_memory() {
  if (emergency_memory_.held()) return true;
  const Nanos now = clock_.now();
  if (now - emergency_memory_tried_at_ < kNanosPerSecond) return false;
  emergency_memory_tried_at_ = now;
  return emergency_memory_.hold();
}

void Server::note_memory_recovered() {
  const Nanos lasted = memory_episode_.end(clock_.now());
  spdlog::info(
      "memory available again: a put succeeded after {:.1f} s of OUT_OF_MEMORY ({} "
      "commands refused)",
      static_cast<double>(lasted) / kNanosPerSecond, memory_episode_.retries());
}

void Server::accept_connections() {
  for (int i = 0; i < kAcceptsPerEvent; ++i) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    int fd = accept4(listen_socket_.fd, reinterpret_cast<sockaddr*>(&ss), &len,
                     SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        // Every waiting connection is in: an episode of failed accepts is over.
        if (accept_episode_.active()) note_accept_recovered();
        return;
      }
      if (errno == EINTR || errno == ECONNABORTED) return;
      if (out_of_resources(errno)) {
        note_accept_starved(errno);
        pause_accepting();
        return;
      }
      spdlog::warn("accept failed: {}", std::strerror(errno));
      return;
    }
    if (ss.ss_family != AF_UNIX) {
      int on = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
    }
    ++total_connections_;
    std::unique_ptr<Connection> connection;
    try {
      make_room_for_connection();
      connection = std::make_unique<Connection>(*this, fd, peer_name(ss));
    } catch (const std::bad_alloc&) {
      ::close(fd);
      note_out_of_memory("new connection");
      continue;
    }
    connection->slot_ = connections_.size();
    spdlog::debug("{}: connected", connection->peer());
    connections_.push_back(std::move(connection));
  }
}

// --- signals and shutdown ------------------------------------------------------

void Server::on_signal_event(evutil_socket_t sig, short, void* self) {
  auto* s = static_cast<Server*>(self);
  if (sig == SIGUSR1) {
    if (!s->draining_) {
      spdlog::info("SIGUSR1: entering drain mode; puts now answer DRAINING");
      sd_notify(0, "STATUS=draining: puts answer DRAINING");
    }
    s->draining_ = true;
    return;
  }
  s->shutdown(sig == SIGTERM ? "SIGTERM" : "SIGINT");
}

void Server::shutdown(const char* why) {
  sd_notifyf(0, "STOPPING=1\nSTATUS=stopping on %s", why);
  spdlog::info("{}: shutting down ({} connections, {} jobs)", why, connections_.size(),
               store_.job_count());
  event_del(accept_event_);
  if (wal_) {
    wal_->close();
    release_held();
  }
  // Best effort: send what is already queued before closing.
  for (auto& c : connections_) c->flush();
  stopping_ = true;
  for (auto& c : connections_) c->close();
  event_base_loopbreak(base_);
}

// --- stats -----------------------------------------------------------------------

protocol::ServerStats Server::stats_snapshot() const {
  protocol::ServerStats s;
  const JobCounts& jobs = store_.job_counts();
  s.jobs_urgent = jobs.urgent;
  s.jobs_ready = jobs.ready;
  s.jobs_reserved = jobs.reserved;
  s.jobs_delayed = jobs.delayed;
  s.jobs_buried = jobs.buried;
  s.commands = command_counts_;
  const StoreCounters& counters = store_.counters();
  s.job_timeouts = counters.job_timeouts;
  s.total_jobs = counters.total_jobs;
  s.max_job_size = options_.max_job_size;
  s.current_tubes = store_.tubes().size();
  s.current_connections = connections_.size() - closed_.size();
  s.current_producers = counters.producers;
  s.current_workers = counters.workers;
  s.current_waiting = counters.waiting;
  s.total_connections = total_connections_;
  s.pid = getpid();
  s.version = kVersion;
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  s.rusage_utime_us = static_cast<std::int64_t>(ru.ru_utime.tv_sec) * 1000000 + ru.ru_utime.tv_usec;
  s.rusage_stime_us = static_cast<std::int64_t>(ru.ru_stime.tv_sec) * 1000000 + ru.ru_stime.tv_usec;
  s.uptime_seconds = static_cast<std::uint64_t>((clock_.now() - started_at_) / kNanosPerSecond);
  s.binlog_max_size = options_.binlog_size;
  if (wal_) {
    s.binlog_oldest_index = wal_->oldest_file_index();
    s.binlog_current_index = wal_->current_file_index();
    s.binlog_records_written = wal_->stats().records_written;
    s.binlog_records_migrated = wal_->stats().records_migrated;
  }
  s.draining = draining_;
  s.instance_id = instance_id_;
  s.hostname = hostname_;
  s.os = os_;
  s.platform = platform_;
  return s;
}

}  // namespace beanstalkd::server
