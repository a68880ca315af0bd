// The server: the libevent reactor, the listening socket, connections,
// the store's timer, signals, drain mode and shutdown. It wires the protocol
// and the store together and is the only module that knows about sockets.
//
// The loop runs one libevent turn at a time; after each turn it writes every
// connection's queued replies once and re-arms the store's single timer, so
// all replies produced in one turn leave in one write per connection.
#pragma once

#include <event2/event.h>

#include <memory>
#include <string>
#include <vector>

#include "beanstalkd/clock.h"
#include "beanstalkd/options.h"
#include "beanstalkd/protocol/command.h"
#include "beanstalkd/protocol/stats_yaml.h"
#include "beanstalkd/server/listener.h"
#include "beanstalkd/store.h"

namespace beanstalkd::server {

class Connection;

class Server {
 public:
  explicit Server(Options options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds (or takes systemd's socket) and drops privileges. Logs and returns
  // false on failure.
  bool open();
  // Serves until SIGTERM or SIGINT; returns the process exit code.
  int run();

  // --- for connections -----------------------------------------------------
  Store& store() { return store_; }
  event_base* base() { return base_; }
  const Options& options() const { return options_; }
  bool draining() const { return draining_; }
  bool trace_enabled() const { return options_.verbosity >= 2; }
  void count(protocol::Op op) { ++command_counts_[static_cast<std::size_t>(op)]; }
  protocol::ServerStats stats_snapshot() const;
  void mark_dirty(Connection* connection);
  void connection_closed(Connection* connection);

 private:
  static void on_accept_event(evutil_socket_t, short, void* self);
  static void on_timer_event(evutil_socket_t, short, void* self);
  static void on_signal_event(evutil_socket_t, short, void* self);
  static void on_accept_resume(evutil_socket_t, short, void* self);

  void accept_connections();
  void pause_accepting();
  void end_of_turn();
  void arm_timer();
  void shutdown(const char* why);
  bool drop_privileges();

  Options options_;
  MonotonicClock clock_;
  Store store_;
  event_base* base_;
  ListenSocket listen_socket_;
  event* accept_event_ = nullptr;
  event* accept_resume_event_ = nullptr;
  event* timer_event_ = nullptr;
  Nanos timer_armed_for_ = kNoTimer;
  std::vector<event*> signal_events_;

  std::vector<std::unique_ptr<Connection>> connections_;  // index = Connection::slot_
  std::vector<Connection*> dirty_;
  std::vector<Connection*> closed_;

  protocol::CommandCounts command_counts_{};
  std::uint64_t total_connections_ = 0;
  bool draining_ = false;
  bool stopping_ = false;
  Nanos started_at_;
  std::string instance_id_;
  std::string hostname_, os_, platform_;
};

}  // namespace beanstalkd::server
