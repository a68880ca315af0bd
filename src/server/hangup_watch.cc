#include "beanstalkd/server/hangup_watch.h"

#include <sys/epoll.h>
#include <unistd.h>

namespace beanstalkd::server {

namespace {

// Reports handled per loop turn; more wait for the next turn (the set stays
// readable while any is left).
constexpr int kReportsPerTurn = 64;

}  // namespace

bool HangupWatch::open(event_base* base) {
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) return false;
  event_ = event_new(base, epoll_fd_, EV_READ | EV_PERSIST, on_ready, this);
  return event_ != nullptr && event_add(event_, nullptr) == 0;
}

void HangupWatch::close() {
  if (event_) event_free(event_);
  event_ = nullptr;
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
  epoll_fd_ = -1;
}

bool HangupWatch::watch(int fd, HangupListener* listener) {
  epoll_event interest{};
  interest.events = EPOLLRDHUP;
  interest.data.ptr = listener;
  return epoll_fd_ >= 0 && epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &interest) == 0;
}

void HangupWatch::unwatch(int fd) {
  if (epoll_fd_ >= 0) epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
}

void HangupWatch::on_ready(evutil_socket_t, short, void* self) {
  auto* w = static_cast<HangupWatch*>(self);
  epoll_event reports[kReportsPerTurn];
  const int n = epoll_wait(w->epoll_fd_, reports, kReportsPerTurn, 0);
  for (int i = 0; i < n; ++i) {
    auto* listener = static_cast<HangupListener*>(reports[i].data.ptr);
    const bool gone = (reports[i].events & (EPOLLERR | EPOLLHUP)) != 0;
    listener->on_hangup(gone ? Hangup::Gone : Hangup::EndOfInput);
  }
}

}  // namespace beanstalkd::server
