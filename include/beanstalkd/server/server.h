// The server: the libevent reactor, the listening socket, connections,
// the store's timer, signals, drain mode and shutdown. It wires the protocol
// and the store together and is the only module that knows about sockets.
//
// The loop runs one libevent turn at a time. A connection's replies leave in
// one write as soon as it has run the commands it read, unless they wait for
// the log; after each turn the log is written, the replies still queued
// leave, and the store's single timer is re-armed.
#pragma once

#include <event2/event.h>

#include <memory>
#include <string>
#include <vector>

#include "beanstalkd/clock.h"
#include "beanstalkd/failure_episode.h"
#include "beanstalkd/options.h"
#include "beanstalkd/protocol/command.h"
#include "beanstalkd/protocol/stats_yaml.h"
#include "beanstalkd/server/connection.h"
#include "beanstalkd/server/emergency_memory.h"
#include "beanstalkd/server/hangup_watch.h"
#include "beanstalkd/server/idle_poll.h"
#include "beanstalkd/server/latency_histogram.h"
#include "beanstalkd/server/listener.h"
#include "beanstalkd/server/memory_trimmer.h"
#include "beanstalkd/store.h"
#include "beanstalkd/wal/file_system.h"
#include "beanstalkd/wal/wal.h"

namespace beanstalkd::server {

class MetricsEndpoint;

class Server {
 public:
  explicit Server(Options options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds (or takes systemd's socket), drops privileges, and replays the
  // log directory if there is one. Logs and returns false on failure.
  bool open();
  // Serves until SIGTERM or SIGINT; returns the process exit code.
  int run();

  // --- for connections -----------------------------------------------------
  Store& store() { return store_; }
  event_base* base() { return base_; }
  HangupWatch& hangup_watch() { return hangup_watch_; }
  const Options& options() const { return options_; }
  bool draining() const { return draining_; }
  bool trace_enabled() const { return options_.verbosity >= 2; }
  void count(protocol::Op op) { ++command_counts_[static_cast<std::size_t>(op)]; }
  // A command was refused with OUT_OF_MEMORY because the system had no
  // memory for what it needed (Store: nothing changed): gives the emergency
  // memory back for the drain. And a put succeeded, which ends such a run.
  // Logged as a FailureEpisode.
  void note_out_of_memory(std::string_view what);
  // Whether a put may try to take memory: not while the emergency memory is
  // given back and cannot be set aside again (tried once a second).
  bool puts_have_memory();
  void note_put_succeeded() {
    if (memory_episode_.active()) note_memory_recovered();
  }
  // Command latencies feed only the metrics endpoint, so commands are timed
  // only when it is on: two clock reads and a histogram update per command
  // were about a tenth of the cycle benchmark's latency.
  bool times_commands() const { return !options_.metrics_listen.empty(); }
  void record_latency(protocol::Op op, Nanos took) {
    latencies_[static_cast<std::size_t>(op)].record(took);
  }
  Nanos now() const { return clock_.now(); }
  protocol::ServerStats stats_snapshot() const;

  // --- for the metrics endpoint ------------------------------------------------
  const protocol::CommandCounts& command_counts() const { return command_counts_; }
  const CommandLatencies& command_latencies() const { return latencies_; }
  const wal::Wal* wal() const { return wal_.get(); }
  std::size_t connection_count() const { return connections_.size() - closed_.size(); }
  // Accepts that failed for lack of descriptors or memory, ever; and whether
  // accepting is paused for that now.
  std::uint64_t accept_failures() const { return accept_failures_; }
  bool accept_paused() const { return accept_episode_.active(); }
  // Connections whose output waits for the log to be durable (-f 0).
  std::size_t held_reply_count() const { return held_.size(); }
  // Serving and able to persist changes; false while draining.
  bool ready() const { return !draining_ && !stopping_ && changes_allowed(); }
  void mark_dirty(Connection* connection);
  // Called when a connection has run its commands (see server.cc).
  void send_replies_early();
  // A connection starts work in this turn (measures how long the loop waited).
  void note_wake() {
    if (woke_at_ == 0 && idle_poll_.max_window() > 0) woke_at_ = clock_.now();
  }
  void connection_closed(Connection* connection);
  // False while the log cannot persist every change: puts are refused.
  bool changes_allowed() const { return !wal_ || wal_->healthy(); }
  // How many releases, burials and kicks the log can record now: while it
  // is full, those its current file's reserve leaves room for
  // (Wal::update_room); none while it fails.
  std::uint64_t updates_allowed() const { return wal_ ? wal_->update_room() : UINT64_MAX; }
  // Deletes are refused only when the log cannot record them: while it is
  // full they still go into the reserve of its current file, so consumers
  // can drain the queue and free the disk.
  bool deletes_allowed() const { return !wal_ || wal_->accepts_deletes(); }
  // A reply reporting a change waits until reply_watermark() reaches the
  // sequence hold_sequence() gave right after the change: with -f 0 until
  // the change is durable; otherwise only a put of a large body, until its
  // record is written (Wal::hold_sequence_for_change).
  std::uint64_t hold_sequence() { return wal_ ? wal_->hold_sequence_for_change() : 0; }
  std::uint64_t reply_watermark() const { return wal_ ? wal_->reply_watermark() : UINT64_MAX; }
  // And whatever the policy, a reply reporting a change waits until the
  // change's record is written (Wal::written_watermark): only a failed write
  // (a full disk) ever makes it wait, and then no client is told of a change
  // the log does not have.
  std::uint64_t change_sequence() const { return wal_ ? wal_->appended_sequence() : 0; }
  std::uint64_t written_watermark() const { return wal_ ? wal_->written_watermark() : UINT64_MAX; }
  // Holds `connection`'s output until the log's watermarks reach its hold
  // sequences (again after a sequence grew); release_held() frees it.
  void hold(Connection* connection);

 private:
  static void on_accept_event(evutil_socket_t, short, void* self);
  static void on_timer_event(evutil_socket_t, short, void* self);
  static void on_signal_event(evutil_socket_t, short, void* self);
  static void on_accept_resume(evutil_socket_t, short, void* self);
  static void on_sync_event(evutil_socket_t, short, void* self);

  bool open_wal();
  void release_held();
  void accept_connections();
  void make_room_for_connection();
  void pause_accepting();
  void note_accept_starved(int error);
  void note_accept_recovered();
  void note_memory_recovered();
  void wait_for_events();
  void end_of_turn();
  void flush_dirty();
  void arm_timer();
  void shutdown(const char* why);
  bool drop_privileges();

  Options options_;
  MonotonicClock clock_;
  Store store_;
  wal::PosixFileSystem file_system_;
  std::unique_ptr<wal::Wal> wal_;
  event* sync_event_ = nullptr;
  event_base* base_;
  HangupWatch hangup_watch_;  // closed before base_ (see ~Server)
  ListenSocket listen_socket_;
  event* accept_event_ = nullptr;
  event* accept_resume_event_ = nullptr;
  event* timer_event_ = nullptr;
  Nanos timer_armed_for_ = kNoTimer;
  std::vector<event*> signal_events_;
  std::unique_ptr<MetricsEndpoint> metrics_;  // freed before base_ (see ~Server)

  std::vector<std::unique_ptr<Connection>> connections_;  // index = Connection::slot_
  std::vector<Connection*> dirty_;
  HeldReplies held_;  // replies waiting for the log to be durable
  // Replies waiting for their records to be written, after a failed write.
  std::vector<Connection*> held_unwritten_;
  std::vector<Connection*> closed_;

  IdlePoll idle_poll_;
  Nanos turn_started_ = 0;  // for IdlePoll's load: when this turn began,
  Nanos turn_idle_ = 0;     // how long it waited,
  Nanos woke_at_ = 0;       // and when the first connection started work
  MemoryTrimmer trimmer_;
  protocol::CommandCounts command_counts_{};
  CommandLatencies latencies_{};
  std::uint64_t total_connections_ = 0;
  FailureEpisode accept_episode_;  // accepts failing for lack of descriptors or memory
  FailureEpisode memory_episode_;  // commands refused for lack of memory
  EmergencyMemory emergency_memory_;
  Nanos emergency_memory_tried_at_ = 0;  // last attempt to set it aside again
  std::uint64_t accept_failures_ = 0;
  bool draining_ = false;
  bool stopping_ = false;
  Nanos started_at_;
  std::string instance_id_;
  std::string hostname_, os_, platform_;
};

}  // namespace beanstalkd::server
