#include "beanstalkd/server/metrics_endpoint.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <memory>
#include <new>
#include <utility>

#include <spdlog/spdlog.h>

#include "beanstalkd/server/listener.h"
#include "beanstalkd/server/server.h"

namespace beanstalkd::server {

namespace {

// A slow or idle scraper is dropped after this many seconds.
constexpr int kHttpTimeoutSeconds = 10;
constexpr int kListenBacklog = 64;

// libevent calls a listener's error callback with evhttp's argument, not
// ours: the process's one metrics endpoint is found here.
MetricsEndpoint* the_endpoint = nullptr;

bool is_loopback(const sockaddr* sa) {
  if (sa->sa_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(sa);
    return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
  }
  if (sa->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
    if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr)) return true;
    // ::ffff:127.x.y.z
    return IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) && in6->sin6_addr.s6_addr[12] == 127;
  }
  return false;
}

std::string address_text(const sockaddr* sa) {
  char host[INET6_ADDRSTRLEN] = "?";
  unsigned port = 0;
  if (sa->sa_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(sa);
    inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
    port = ntohs(in->sin_port);
    return std::string(host) + ":" + std::to_string(port);
  }
  const auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
  inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
  port = ntohs(in6->sin6_port);
  return "[" + std::string(host) + "]:" + std::to_string(port);
}

void free_string(const void*, size_t, void* string) {
  delete static_cast<std::string*>(string);
}

std::string_view request_path(evhttp_request* request) {
  const evhttp_uri* uri = evhttp_request_get_evhttp_uri(request);
  const char* path = uri ? evhttp_uri_get_path(uri) : nullptr;
  return path ? std::string_view(path) : std::string_view();
}

}  // namespace

MetricsSnapshot collect_metrics(Server& server) {
  MetricsSnapshot m;
  m.server = server.stats_snapshot();
  m.latencies = server.command_latencies();
  m.ready = server.ready();
  m.accept_failures = server.accept_failures();
  m.accept_paused = server.accept_paused();
  m.replies_awaiting_log = server.held_reply_count();
  const Nanos now = server.now();
  const std::vector<Tube*>& tubes = server.store().tubes();
  m.tubes.reserve(tubes.size());
  for (const Tube* tube : tubes) m.tubes.push_back(snapshot(*tube, now));
  if (const wal::Wal* log = server.wal()) {
    WalMetrics& l = m.wal.emplace();
    l.stats = log->stats();
    l.healthy = log->healthy();
    l.full = log->full();
    l.oldest_file_index = log->oldest_file_index();
    l.current_file_index = log->current_file_index();
    l.max_file_size = log->max_file_size();
    l.disk_bytes = log->disk_bytes();
    l.live_bytes = log->live_bytes();
  }
  return m;
}

bool split_host_port(std::string_view value, std::string& host, std::uint16_t& port,
                     std::string& error) {
  std::string_view host_part, port_part;
  if (!value.empty() && value.front() == '[') {
    const std::size_t close = value.find(']');
    if (close == std::string_view::npos || close + 1 >= value.size() || value[close + 1] != ':') {
      error = "expected [ADDRESS]:PORT";
      return false;
    }
    host_part = value.substr(1, close - 1);
    port_part = value.substr(close + 2);
  } else {
    const std::size_t colon = value.rfind(':');
    if (colon == std::string_view::npos) {
      error = "expected HOST:PORT";
      return false;
    }
    host_part = value.substr(0, colon);
    port_part = value.substr(colon + 1);
    if (host_part.find(':') != std::string_view::npos) {
      error = "write an IPv6 address in brackets, as in [::1]:9464";
      return false;
    }
  }
  if (host_part.empty()) {
    error = "the host is empty (0.0.0.0 or [::] mean every interface)";
    return false;
  }
  unsigned long parsed = 0;
  const char* end = port_part.data() + port_part.size();
  auto [ptr, ec] = std::from_chars(port_part.data(), end, parsed);
  if (port_part.empty() || ec != std::errc() || ptr != end || parsed > 65535) {
    error = "the port must be a number from 0 to 65535";
    return false;
  }
  host = std::string(host_part);
  port = static_cast<std::uint16_t>(parsed);
  return true;
}

MetricsEndpoint::MetricsEndpoint(Server& server) : server_(server) {}

MetricsEndpoint::~MetricsEndpoint() {
  if (the_endpoint == this) the_endpoint = nullptr;
  if (spare_) bufferevent_free(spare_);
  if (pause_timer_) event_free(pause_timer_);
  // Closes the listening socket and any scraper still connected.
  if (http_) evhttp_free(http_);
}

bool MetricsEndpoint::start(const std::string& host_port, std::string& error) {
  std::string host;
  std::uint16_t port = 0;
  if (!split_host_port(host_port, host, port, error)) {
    error = "--metrics-listen " + host_port + ": " + error;
    return false;
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string port_text = std::to_string(port);
  if (int rc = getaddrinfo(host.c_str(), port_text.c_str(), &hints, &found); rc != 0) {
    error = "--metrics-listen " + host_port + ": " + gai_strerror(rc);
    return false;
  }
  int fd = -1;
  std::string last_error = "no address";
  for (addrinfo* ai = found; ai && fd < 0; ai = ai->ai_next) {
    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      last_error = std::strerror(errno);
      continue;
    }
    int on = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, kListenBacklog) != 0) {
      last_error = address_text(ai->ai_addr) + ": " + std::strerror(errno);
      close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(found);
  if (fd < 0) {
    error = "--metrics-listen " + host_port + ": cannot listen: " + last_error;
    return false;
  }
  sockaddr_storage bound{};
  socklen_t bound_len = sizeof bound;
  getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &bound_len);
  description_ = address_text(reinterpret_cast<const sockaddr*>(&bound));

  http_ = evhttp_new(server_.base());
  if (!http_) {
    close(fd);
    error = "--metrics-listen: cannot create the HTTP server";
    return false;
  }
  // Every method reaches the handler, which answers 405 itself (libevent
  // would answer 501 for methods outside its allowed set).
  evhttp_set_allowed_methods(http_, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                                        EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS |
                                        EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH);
  evhttp_set_timeout(http_, kHttpTimeoutSeconds);
  evhttp_set_max_headers_size(http_, 16384);
  evhttp_set_max_body_size(http_, 4096);
  evhttp_set_gencb(http_, on_request, this);
  evhttp_set_bevcb(http_, hand_out_bufferevent, this);
  pause_timer_ = evtimer_new(server_.base(), on_pause_over, this);
  // The listener owns the socket from here, and evhttp the listener (both
  // freed by evhttp_free). Already listening: backlog 0 leaves it as is.
  listener_ = evconnlistener_new(server_.base(), nullptr, nullptr, LEV_OPT_CLOSE_ON_FREE, 0, fd);
  if (!listener_) close(fd);
  if (!listener_ || !pause_timer_ || !make_spare() || !evhttp_bind_listener(http_, listener_)) {
    if (listener_) evconnlistener_free(listener_);
    listener_ = nullptr;
    error = "--metrics-listen " + host_port + ": cannot serve HTTP on " + description_;
    return false;
  }
  the_endpoint = this;
  evconnlistener_set_error_cb(listener_, on_accept_error);
  if (!is_loopback(reinterpret_cast<const sockaddr*>(&bound))) {
    spdlog::warn(
        "the metrics endpoint on {} is reachable from other hosts and has no authentication",
        description_);
  }
  spdlog::info("serving metrics on http://{}/metrics", description_);
  return true;
}

// Out of descriptors or memory, libevent's listener would retry accept() in
// a busy loop, warning at every try, for as long as a scrape waits: it rests
// for 100 ms instead, like the beanstalk listener (which logs the episode).
void MetricsEndpoint::on_accept_error(evconnlistener*, void*) {
  const int error = errno;
  if (!out_of_resources(error)) {
    spdlog::warn("metrics endpoint: accept failed: {}", std::strerror(error));
  } else if (the_endpoint) {
    the_endpoint->pause_accepting();
  }
}

void MetricsEndpoint::pause_accepting() {
  evconnlistener_disable(listener_);
  event_add(pause_timer_, &kAcceptBackoff);
}

void MetricsEndpoint::on_pause_over(evutil_socket_t, short, void* self) {
  auto* endpoint = static_cast<MetricsEndpoint*>(self);
  if (!endpoint->spare_ && !endpoint->make_spare()) {
    endpoint->pause_accepting();
    return;
  }
  if (std::exchange(endpoint->paused_for_memory_, false))
    spdlog::info("metrics endpoint: memory is back; accepting scrapes again");
  evconnlistener_enable(endpoint->listener_);
}

// libevent 2.1 crashes when it cannot allocate a new connection's
// bufferevent itself (its error path frees a half-made connection). So each
// connection gets one made ahead, while the previous connection was
// accepted; while none can be made, accepting pauses and the scrapes wait
// in the listen queue.
bufferevent* MetricsEndpoint::hand_out_bufferevent(event_base*, void* self) {
  auto* endpoint = static_cast<MetricsEndpoint*>(self);
  bufferevent* handed = std::exchange(endpoint->spare_, nullptr);
  if (!endpoint->make_spare()) {
    if (!std::exchange(endpoint->paused_for_memory_, true))
      spdlog::warn("metrics endpoint: out of memory; scrapes wait until there is some");
    endpoint->pause_accepting();  // the listener stops before its next accept
  }
  return handed;
}

bool MetricsEndpoint::make_spare() {
  spare_ = bufferevent_socket_new(server_.base(), -1, 0);
  return spare_ != nullptr;
}

void MetricsEndpoint::on_request(evhttp_request* request, void* self) {
  // Scrapes come most often when something is wrong, memory running out
  // included: such a one is answered 503 rather than let std::bad_alloc
  // cross libevent's callback and end the server. (Nothing is sent before
  // the body is whole, so nothing was half sent.)
  try {
    static_cast<MetricsEndpoint*>(self)->handle(request);
  } catch (const std::bad_alloc&) {
    evhttp_send_error(request, 503, "out of memory");
  }
}

void MetricsEndpoint::handle(evhttp_request* request) {
  const evhttp_cmd_type method = evhttp_request_get_command(request);
  const bool head = method == EVHTTP_REQ_HEAD;
  if (method != EVHTTP_REQ_GET && !head) {
    evhttp_add_header(evhttp_request_get_output_headers(request), "Allow", "GET, HEAD");
    send_text(request, 405, "Method Not Allowed", "method not allowed\n", "text/plain", false);
    return;
  }
  const std::string_view path = request_path(request);
  if (path == "/metrics") {
    const auto started = std::chrono::steady_clock::now();
    std::string body;
    body.reserve(last_size_ + last_size_ / 8 + 4096);
    render_metrics(collect_metrics(server_), body);
    last_size_ = body.size();
    spdlog::debug(
        "metrics: rendered {} bytes in {:.3f} ms", body.size(),
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started)
            .count());
    send_text(request, 200, "OK", std::move(body), kMetricsContentType, head);
  } else if (path == "/healthz") {
    send_text(request, 200, "OK", "ok\n", "text/plain", head);
  } else if (path == "/readyz") {
    if (server_.ready()) {
      send_text(request, 200, "OK", "ready\n", "text/plain", head);
      return;
    }
    std::string reason;
    const wal::Wal* log = server_.wal();
    if (server_.draining()) {
      reason = "draining (SIGUSR1): puts answer DRAINING\n";
    } else if (log && log->full()) {
      reason = "log full: " + log->failure() +
               "; puts answer OUT_OF_MEMORY until deletes free the disk\n";
      std::replace(reason.begin(), reason.end() - 1, '\n', ' ');
    } else if (log && !log->healthy()) {
      reason = "log failure: " + log->failure() + "\n";
      std::replace(reason.begin(), reason.end() - 1, '\n', ' ');
    } else {
      reason = "shutting down\n";
    }
    send_text(request, 503, "Service Unavailable", std::move(reason), "text/plain", head);
  } else {
    send_text(request, 404, "Not Found", "not found\n", "text/plain", head);
  }
}

void MetricsEndpoint::send_text(evhttp_request* request, int code, const char* reason,
                                std::string body, std::string_view content_type, bool head) {
  evkeyvalq* headers = evhttp_request_get_output_headers(request);
  evhttp_add_header(headers, "Content-Type", std::string(content_type).c_str());
  evhttp_add_header(headers, "Cache-Control", "no-store");
  if (head) {
    // The length the body would have, and no body.
    evhttp_add_header(headers, "Content-Length", std::to_string(body.size()).c_str());
    evhttp_send_reply(request, code, reason, nullptr);
    return;
  }
  // The rendered string goes out by reference, never copied; libevent frees
  // it once sent. Without memory for that, nothing is sent here (on_request
  // answers 503).
  auto owned = std::make_unique<std::string>(std::move(body));
  std::unique_ptr<evbuffer, void (*)(evbuffer*)> buffer(evbuffer_new(), evbuffer_free);
  if (!buffer || evbuffer_add_reference(buffer.get(), owned->data(), owned->size(), free_string,
                                        owned.get()) != 0)
    throw std::bad_alloc();
  [[maybe_unused]] std::string* handed_over = owned.release();  // libevent frees it
  evhttp_send_reply(request, code, reason, buffer.get());
}

}  // namespace beanstalkd::server
