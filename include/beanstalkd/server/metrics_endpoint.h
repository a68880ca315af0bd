// The optional HTTP listener (--metrics-listen HOST:PORT): libevent's own
// HTTP server on the server's event base, so it runs in the loop's single
// thread and reads the server's figures without locks.
//
//   GET /metrics  the Prometheus text exposition (metrics_text.h)
//   GET /healthz  200 "ok" while the process serves
//   GET /readyz   200 "ready" while Server::ready(), else 503 and the reason
//
// HEAD is answered like GET without the body; other methods get 405, other
// paths 404. The endpoint has no authentication: binding an address that is
// not loopback logs a warning.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "beanstalkd/server/metrics_text.h"

struct bufferevent;
struct event;
struct event_base;
struct evconnlistener;
struct evhttp;
struct evhttp_request;

namespace beanstalkd::server {

class Server;

// Fills a snapshot from the live server: O(tubes).
MetricsSnapshot collect_metrics(Server& server);

// "HOST:PORT" or "[V6]:PORT" split into its parts; false with `error` when
// the value has no port, a bad port (1-65535) or an empty host.
bool split_host_port(std::string_view value, std::string& host, std::uint16_t& port,
                     std::string& error);

class MetricsEndpoint {
 public:
  explicit MetricsEndpoint(Server& server);
  ~MetricsEndpoint();
  MetricsEndpoint(const MetricsEndpoint&) = delete;
  MetricsEndpoint& operator=(const MetricsEndpoint&) = delete;

  // Binds and starts serving on the server's event base. False with `error`
  // (naming the address) when the value is malformed or the bind fails.
  bool start(const std::string& host_port, std::string& error);

  // The address bound, e.g. "127.0.0.1:9464" (with the real port when 0 was
  // asked for).
  const std::string& description() const { return description_; }

 private:
  static void on_accept_error(evconnlistener* listener, void* http);
  static void on_pause_over(int fd, short what, void* self);
  static bufferevent* hand_out_bufferevent(event_base* base, void* self);
  void pause_accepting();
  bool make_spare();
  static void on_request(evhttp_request* request, void* self);
  void handle(evhttp_request* request);
  void send_text(evhttp_request* request, int code, const char* reason, std::string body,
                 std::string_view content_type, bool head);

  Server& server_;
  evhttp* http_ = nullptr;
  evconnlistener* listener_ = nullptr;  // owned by http_
  bufferevent* spare_ = nullptr;        // the next connection's (see hand_out_bufferevent)
  event* pause_timer_ = nullptr;        // ends a pause in accepting
  bool paused_for_memory_ = false;
  std::string description_;
  std::size_t last_size_ = 0;  // to reserve the next scrape's string in one go
};

}  // namespace beanstalkd::server
