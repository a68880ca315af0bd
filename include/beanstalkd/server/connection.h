// One client connection: reads bytes, frames them into command lines and job
// bodies, runs each command against the store, and queues the replies. Each
// connection is an explicit state machine:
//
//   Command  waiting for a command line
//   Body     reading a put's body (and its CRLF) straight into the new job
//   Discard  throwing away a body too big to accept, then replying
//   Waiting  blocked in reserve; input is buffered but not parsed, and a
//            half-close ends the wait with TIMED_OUT
//   Closed   gone from the store; deleted by the server after this loop turn
#pragma once

#include <event2/buffer.h>
#include <event2/event.h>

#include <cstdint>
#include <string_view>

#include "beanstalkd/intrusive_heap.h"
#include "beanstalkd/job.h"
#include "beanstalkd/protocol/command.h"
#include "beanstalkd/server/hangup_watch.h"
#include "beanstalkd/server/input_buffer.h"
#include "beanstalkd/server/reply_staging.h"
#include "beanstalkd/session.h"

namespace beanstalkd::server {

class Server;

class Connection final : public ReserveListener, public HangupListener {
 public:
  Connection(Server& server, int fd, std::string peer);
  ~Connection() override;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  bool closed() const { return state_ == State::Closed; }
  const std::string& peer() const { return peer_; }
  Session& session() { return session_; }

  // Writes queued output; closes the connection if the peer is gone or it
  // asked to close and everything is written.
  void flush();
  // Closes at once: the store gets back the held jobs.
  void close();
  // Stop accepting input and close once queued replies are written.
  void close_after_flush();

  // ReserveListener
  void on_reserved(Job& job) override;
  void on_wait_ended(WaitEnd why) override;

  // HangupListener: the peer hung up while the connection was not read.
  void on_hangup(Hangup how) override;

 private:
  enum class State { Command, Body, Discard, Waiting, Closed };

  static void on_read_event(evutil_socket_t, short, void* self);
  static void on_write_event(evutil_socket_t, short, void* self);
  static void on_resume_event(evutil_socket_t, short, void* self);
  static void unpin_job(const void* data, size_t len, void* job);

  void read_input();
  void process_input();
  bool process_line();
  bool fill_body();
  bool discard_body();
  void update_read_interest();
  void after_processing();
  // The peer sends nothing more, though bytes it sent may still be unread.
  bool peer_sends_nothing_more() const { return peer_closed_ || peer_hung_up_; }
  void end_wait_of_departing_peer();
  void put_back_on_resume(std::uint64_t id, bool unreadable);
  void put_back_unsent_job();
  void drop_for_lack_of_memory(std::string_view what);
  void note_closing_for_lack_of_memory(std::string_view what);

  // Commands (connection_commands.cc).
  void run_or_refuse(const protocol::Command& cmd);
  void refuse_for_lack_of_memory(std::string_view what);
  void execute(const protocol::Command& command);  // times run()
  void run(const protocol::Command& command);
  bool refuse_unless(bool allowed);
  void hold_for_log();
  void start_put(const protocol::Command& command);
  void finish_put();
  void reply_stats_job(std::uint64_t id);
  void reply_stats_tube(std::string_view name);

  void reply(std::string_view line);
  // Queues reply bytes: staged while nothing waits in out_, else after it.
  void queue(const char* bytes, std::size_t n);
  bool spill_staged();
  std::size_t pending_output() const { return staged_.size() + evbuffer_get_length(out_); }
  void reply_job(std::string_view word, Job& job);
  void reply_yaml(const std::string& body);
  void wake();
  void schedule_resume();
  void mark_dirty();

  Server& server_;
  int fd_;
  std::string peer_;
  event* read_event_;
  event* write_event_ = nullptr;   // created when a write would block
  event* resume_event_ = nullptr;  // created when processing must continue later
  bool reading_ = false;
  bool writing_ = false;
  // Commands are buffered but not run until the client reads its replies.
  bool output_stalled_ = false;
  // The input buffer is full and no bigger one could be had: reading waits
  // until running what it holds has made room.
  bool input_full_ = false;
  InputBuffer in_;
  // Output: staged_ while out_ is empty (the common case), out_ for what a
  // slow reader left, large bodies, and everything queued behind them.
  ReplyStaging staged_;
  evbuffer* out_;
  Session session_;
  State state_ = State::Command;

  // Body state: the job being filled and the put's arguments.
  Job* pending_job_ = nullptr;
  std::size_t body_filled_ = 0;
  std::uint32_t put_priority_ = 0, put_delay_ = 0, put_ttr_ = 0;
  // Discard state: bytes still to skip and the reply that follows.
  std::uint64_t discard_left_ = 0;
  std::string_view discard_reply_;
  // Dropping an overlong line up to its CRLF.
  bool skipping_long_line_ = false;
  // Reserved, but its RESERVED could not be sent, dealt with on resume
  // (put_back_unsent_job): its body could not be read back from the log
  // (it is buried), or there was no memory to read it into (released).
  std::uint64_t unsent_reserved_job_ = 0;
  bool unsent_job_unreadable_ = false;
  // Out of memory for what serving the client needed next: the connection
  // closes at the end of the turn, and nothing more is queued for it.
  bool dropping_ = false;
  bool peer_closed_ = false;  // a read found the end of the peer's input
  // The hangup watch saw the peer end its input before the server read that far.
  bool peer_hung_up_ = false;
  bool watching_hangup_ = false;  // in the server's HangupWatch
  bool closing_ = false;          // close once output is written
  bool dirty_ = false;            // queued for the server's end-of-turn flush
  // Output waits until the log's reply watermark reaches this (Server::hold_sequence).
  std::uint64_t hold_sequence_ = 0;
  // Output waits until the log has written its records up to this
  // (Server::written_watermark).
  std::uint64_t written_hold_ = 0;
  // Position in the server's heap of held replies, or kNotInHeap.
  HeapIndex held_index_ = kNotInHeap;
  bool held_unwritten_ = false;  // in the server's held_unwritten_
  std::size_t slot_ = 0;         // position in the server's connection table

  friend class Server;
  friend struct HeldReplyOrder;
  friend struct HeldReplySlot;
};

// The server's held replies come out in the order of the log sequence they
// wait for.
struct HeldReplyOrder {
  bool operator()(const Connection& a, const Connection& b) const {
    return a.hold_sequence_ < b.hold_sequence_;
  }
};
struct HeldReplySlot {
  HeapIndex& operator()(Connection& c) const { return c.held_index_; }
};
using HeldReplies = IntrusiveHeap<Connection, HeldReplyOrder, HeldReplySlot>;

}  // namespace beanstalkd::server
