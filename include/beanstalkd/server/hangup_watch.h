// Notices a peer hanging up on a connection the server is not reading.
//
// A connection stops reading once 4 MiB of its input waits behind a reserve
// (Connection::update_read_interest), but a client that goes away meanwhile
// must still be dropped: otherwise it keeps its memory and its jobs, and is
// handed the next job of the tubes it watched. libevent cannot watch for
// that on its own. Its EV_CLOSED (EPOLLRDHUP) sees a FIN, but a reset comes
// as EPOLLERR, which libevent passes only to read and write events: an
// EV_CLOSED event never sees it, and the level-triggered report makes the
// loop spin. A read event is no help either, as the unread input keeps it
// firing. So such sockets go into an epoll set of their own, registered for
// EPOLLRDHUP alone (an error or a hang-up is always reported), whose one
// descriptor the loop reads: the reference's "hang-up only" interest.
#pragma once

#include <event2/event.h>

namespace beanstalkd::server {

enum class Hangup {
  // The peer sent its last byte (it half-closed, or closed in order); what it
  // sent before is still to be read.
  EndOfInput,
  // The connection is gone: reset, or closed both ways.
  Gone,
};

class HangupListener {
 public:
  virtual void on_hangup(Hangup how) = 0;

 protected:
  ~HangupListener() = default;
};

class HangupWatch {
 public:
  HangupWatch() = default;
  ~HangupWatch() { close(); }
  HangupWatch(const HangupWatch&) = delete;
  HangupWatch& operator=(const HangupWatch&) = delete;

  // Creates the epoll set and the loop's event for it; false (errno says
  // why) on failure.
  bool open(event_base* base);
  // Frees both; before the event base goes.
  void close();

  // Reports a hang-up of `fd` to `listener`, again each turn until it is
  // unwatched (a report read in the same batch may still follow: listeners
  // must outlive the turn). False if the socket cannot be watched.
  bool watch(int fd, HangupListener* listener);
  void unwatch(int fd);

 private:
  static void on_ready(evutil_socket_t, short, void* self);

  int epoll_fd_ = -1;
  event* event_ = nullptr;
};

}  // namespace beanstalkd::server
