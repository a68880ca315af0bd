#include "beanstalkd/server/connection.h"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <new>
#include <utility>

#include <spdlog/spdlog.h>

#include "beanstalkd/protocol/parser.h"
#include "beanstalkd/protocol/reply_line.h"
#include "beanstalkd/server/server.h"

namespace beanstalkd::server {

namespace {

using protocol::kMaxLineLength;

constexpr std::size_t kReadChunk = InputBuffer::kPooledSize;
// Reads per readable event, so one fast sender cannot starve the others.
constexpr int kReadsPerEvent = 16;
// Bytes a connection may read, and write, per turn. Copying is the only
// unbounded work the loop does: a client sending or fetching a 64 MiB body
// over loopback would otherwise have the whole body copied in one system
// call loop (some 30 ms) while every other connection waits. 256 KiB is
// copied in about 0.1 ms, and costs a large transfer one extra turn per
// 256 KiB (measured: another client's cycle p99 3.2 ms while 64 MiB bodies
// streamed at 1.6 GiB/s; with 512 KiB, 4.5 ms at 1.9 GiB/s).
constexpr std::size_t kMaxBytesPerTurn = std::size_t{256} * 1024;
// Commands run per turn before yielding to other connections.
constexpr int kCommandsPerTurn = 1024;
// Stop reading from a client while this much output waits for it, or this
// much input is buffered unparsed (a pipelining client behind a blocking
// reserve); resume when it drains. Commands already buffered stop running
// too while the output is this large: a client that pipelines thousands of
// commands and reads nothing must not make the server hold every reply.
constexpr std::size_t kMaxPendingOutput = std::size_t{4} * 1024 * 1024;
constexpr std::size_t kMaxBufferedInput = std::size_t{4} * 1024 * 1024;
// Bodies at least this large are sent by reference instead of copied.
constexpr std::size_t kReferenceBodyThreshold = std::size_t{16} * 1024;

constexpr std::string_view kCrlf = "\r\n";

}  // namespace

Connection::Connection(Server& server, int fd, std::string peer)
    : server_(server), fd_(fd), peer_(std::move(peer)), out_(evbuffer_new()), session_(this) {
  // Without memory for any of it, nothing is left behind (the caller
  // closes the socket).
  read_event_ =
      out_ ? event_new(server_.base(), fd_, EV_READ | EV_PERSIST, on_read_event, this) : nullptr;
  try {
    if (!read_event_) throw std::bad_alloc();
    server_.store().attach(session_);
  } catch (const std::bad_alloc&) {
    if (read_event_) event_free(read_event_);
    if (out_) evbuffer_free(out_);
    throw;
  }
  update_read_interest();
}

Connection::~Connection() {
  close();
  event_free(read_event_);
  if (write_event_) event_free(write_event_);
  if (resume_event_) event_free(resume_event_);
  evbuffer_free(out_);
}

void Connection::close() {
  if (state_ == State::Closed) return;
  if (pending_job_) {
    server_.store().discard_job(pending_job_);
    pending_job_ = nullptr;
  }
  server_.store().detach(session_);
  state_ = State::Closed;
  event_del(read_event_);
  if (write_event_) event_del(write_event_);
  if (resume_event_) event_del(resume_event_);
  if (watching_hangup_) server_.hangup_watch().unwatch(fd_);
  watching_hangup_ = false;
  staged_.release();
  ::close(fd_);
  fd_ = -1;
  spdlog::debug("{}: closed", peer_);
  server_.connection_closed(this);
}

void Connection::close_after_flush() {
  closing_ = true;
  update_read_interest();
  mark_dirty();
}

void Connection::mark_dirty() {
  if (!dirty_ && state_ != State::Closed) {
    dirty_ = true;
    server_.mark_dirty(this);
  }
}

// Reads while the client is not being throttled: its output must drain and
// its unparsed input must shrink first. EOF must still be noticed while a
// reserve waits, so waiting does not stop reading; and when 4 MiB of input
// behind the reserve does, the server's HangupWatch notices instead.
void Connection::update_read_interest() {
  if (state_ == State::Closed) return;
  if (input_full_ && !in_.full()) input_full_ = false;  // running its commands made room
  bool want = !closing_ && !peer_closed_ && pending_output() < kMaxPendingOutput &&
              in_.size() < kMaxBufferedInput && !input_full_;
  if (want != reading_) {
    if (want) {
      event_add(read_event_, nullptr);
    } else {
      event_del(read_event_);
    }
    reading_ = want;
  }
  // Only a waiting connection needs the watch: any other one that stops
  // reading runs its buffered commands and so reads again, or has output
  // waiting, whose write event sees a reset.
  bool watch = !reading_ && state_ == State::Waiting && !peer_sends_nothing_more();
  if (watch != watching_hangup_) {
    if (watch) {
      watching_hangup_ = server_.hangup_watch().watch(fd_, this);
    } else {
      server_.hangup_watch().unwatch(fd_);
      watching_hangup_ = false;
    }
  }
}

// --- reading -------------------------------------------------------------------

void Connection::on_read_event(evutil_socket_t, short, void* self) {
  auto* c = static_cast<Connection*>(self);
  c->server_.note_wake();
  try {
    c->read_input();
  } catch (const std::bad_alloc&) {
    c->drop_for_lack_of_memory("read buffer");  // nothing of the client's was read
  }
  if (c->closed()) return;
  if (c->peer_closed_) c->end_wait_of_departing_peer();
  c->process_input();
  if (c->closed()) return;
  c->after_processing();
}

void Connection::on_hangup(Hangup how) {
  if (closed()) return;
  server_.note_wake();
  if (how == Hangup::Gone) {
    spdlog::debug("{}: hung up while its input waited behind a reserve", peer_);
    close();
    return;
  }
  // The bytes before the end are still to be read, once the commands behind
  // the reserve have run.
  peer_hung_up_ = true;
  end_wait_of_departing_peer();
  after_processing();
}

// A client that half-closes while waiting gets TIMED_OUT, as from the
// reference; the commands it sent after the reserve still run, and the
// connection closes once they have and their replies are out.
void Connection::end_wait_of_departing_peer() {
  if (state_ == State::Waiting) server_.store().cancel_wait(session_);
}

void Connection::read_input() {
  std::size_t budget = kMaxBytesPerTurn;
  for (int i = 0; i < kReadsPerEvent && budget > 0; ++i) {
    ssize_t n;
    std::size_t want;
    if (state_ == State::Body && in_.empty()) {
      // Large bodies go straight from the socket into the job: one copy.
      want = std::min<std::size_t>(pending_job_->body_size + 2 - body_filled_, budget);
      n = recv(fd_, pending_job_->body_with_crlf() + body_filled_, want, 0);
      if (n > 0) body_filled_ += static_cast<std::size_t>(n);
    } else if (state_ == State::Discard && in_.empty()) {
      char scratch[kReadChunk];
      want = static_cast<std::size_t>(
          std::min<std::uint64_t>({discard_left_, sizeof scratch, budget}));
      n = recv(fd_, scratch, want, 0);
      if (n > 0) discard_left_ -= static_cast<std::uint64_t>(n);
    } else {
      std::span<char> room;
      try {
        room = in_.prepare(std::min(kReadChunk, budget));
      } catch (const std::bad_alloc&) {
        if (in_.empty()) throw;  // not a byte of room: the caller drops the connection
        // Full, and no bigger buffer to be had: what it holds runs first,
        // and reading waits until that has made room.
        input_full_ = true;
        return;
      }
      want = room.size();
      n = recv(fd_, room.data(), want, 0);
      if (n > 0) in_.commit(static_cast<std::size_t>(n));
    }
    if (n == 0) {
      peer_closed_ = true;
      return;
    }
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        spdlog::debug("{}: read error: {}", peer_, std::strerror(errno));
        close();
      }
      return;
    }
    if (static_cast<std::size_t>(n) < want) return;  // drained the socket
    budget -= static_cast<std::size_t>(n);           // at 0 the level-triggered event fires again
    if ((state_ == State::Body && body_filled_ == pending_job_->body_size + 2) ||
        (state_ == State::Discard && discard_left_ == 0) || in_.size() >= kMaxBufferedInput)
      return;
  }
}

void Connection::on_resume_event(evutil_socket_t, short, void* self) {
  auto* c = static_cast<Connection*>(self);
  c->put_back_unsent_job();
  c->process_input();
  if (c->closed()) return;
  c->after_processing();
}

// The client never learns the id of a job reserved but not sent, so it
// would stay reserved until its TTR. One whose body cannot be read back is
// buried, or it would fail the next worker the same way: it stays visible
// and deletable, and reserves go on to other jobs. One that found no memory
// to be read into goes back to ready, as if released. Without memory for
// either, or a log that cannot record the burial, it stays reserved.
void Connection::put_back_unsent_job() {
  const std::uint64_t id = std::exchange(unsent_reserved_job_, 0);
  if (id == 0) return;
  const Job* job = server_.store().find_job(id);
  if (!job || job->activity().holder != &session_) return;
  try {
    if (!unsent_job_unreadable_) {
      server_.store().release(session_, id, job->priority, 0);
    } else if (server_.updates_allowed() > 0 && server_.store().bury(session_, id, job->priority)) {
      spdlog::warn(
          "job {} was buried: its body cannot be read back from the log (see above), so "
          "reserving it again would fail again",
          id);
    }
  } catch (const std::bad_alloc&) {
    server_.note_out_of_memory("giving back a reserved job");
  }
}

// A job reserved for this connection whose RESERVED was not sent goes back
// once the store's call that reserved it is over (put_back_unsent_job).
void Connection::put_back_on_resume(std::uint64_t id, bool unreadable) {
  unsent_reserved_job_ = id;
  unsent_job_unreadable_ = unreadable;
  schedule_resume();
}

// Every callback that ran commands ends here: reading resumes or pauses with
// the buffered input and output, and the replies are offered to the socket.
void Connection::after_processing() {
  update_read_interest();
  mark_dirty();
  server_.send_replies_early();
}

// Runs process_input() again in a later turn: after a wait ends, or when the
// turn's command budget ran out. Created on first use; idle connections have
// no such event.
void Connection::schedule_resume() {
  if (!resume_event_) resume_event_ = event_new(server_.base(), -1, 0, on_resume_event, this);
  if (!resume_event_) {
    drop_for_lack_of_memory("resume event");
    return;
  }
  event_active(resume_event_, 0, 0);
}

void Connection::wake() {
  state_ = State::Command;
  schedule_resume();
}

// Runs buffered commands until input runs out, the connection blocks in
// reserve, or the turn's budget is spent (then it continues next turn).
// Input that runs out after the peer's last byte closes the connection.
void Connection::process_input() {
  for (int budget = kCommandsPerTurn; budget > 0; --budget) {
    if (closing_ || state_ == State::Closed || state_ == State::Waiting) return;
    if (pending_output() >= kMaxPendingOutput) {
      // flush() resumes once the client has read enough.
      output_stalled_ = true;
      return;
    }
    bool progressed = false;
    switch (state_) {
      case State::Body:
        progressed = fill_body();
        break;
      case State::Discard:
        progressed = discard_body();
        break;
      case State::Command:
        progressed = process_line();
        break;
      case State::Waiting:
      case State::Closed:
        return;
    }
    if (!progressed) {
      // Whatever is left is an incomplete command that can never complete;
      // the reference drops it too.
      if (peer_closed_) close_after_flush();
      return;
    }
  }
  schedule_resume();
}

bool Connection::fill_body() {
  std::size_t need = pending_job_->body_size + 2 - body_filled_;
  std::size_t take = std::min(need, in_.size());
  if (take > 0) {
    std::memcpy(pending_job_->body_with_crlf() + body_filled_, in_.data(), take);
    in_.consume(take);
    body_filled_ += take;
  }
  if (body_filled_ < pending_job_->body_size + 2) return false;
  finish_put();
  return true;
}

bool Connection::discard_body() {
  std::size_t take = static_cast<std::size_t>(std::min<std::uint64_t>(discard_left_, in_.size()));
  in_.consume(take);
  discard_left_ -= take;
  if (discard_left_ > 0) return false;
  state_ = State::Command;
  reply(discard_reply_);
  return true;
}

// Frames one command line. Only CRLF ends a line. A line longer than 224
// bytes is answered BAD_FORMAT once its CRLF arrives, and the next command
// is left intact (the reference can swallow it).
bool Connection::process_line() {
  std::string_view buffered = in_.view();
  std::size_t crlf = buffered.find(kCrlf);
  if (skipping_long_line_) {
    if (crlf == std::string_view::npos) {
      // Keep a trailing CR: it may start the CRLF we are looking for.
      std::size_t keep = !buffered.empty() && buffered.back() == '\r' ? 1 : 0;
      in_.consume(buffered.size() - keep);
      return false;
    }
    in_.consume(crlf + 2);
    skipping_long_line_ = false;
    reply("BAD_FORMAT\r\n");
    return true;
  }
  if (crlf == std::string_view::npos) {
    if (buffered.size() >= kMaxLineLength) {
      skipping_long_line_ = true;
      return true;
    }
    return false;
  }
  if (crlf + 2 > kMaxLineLength) {
    in_.consume(crlf + 2);
    reply("BAD_FORMAT\r\n");
    return true;
  }
  std::string_view line = buffered.substr(0, crlf);
  if (server_.trace_enabled()) spdlog::trace("{} <- {}", peer_, line);
  protocol::Command command;
  protocol::ParseStatus status = protocol::parse_command(line, command);
  // The line's bytes stay in place until the next read, so views into it
  // (a tube name) remain valid while the command runs.
  in_.consume(crlf + 2);
  switch (status) {
    case protocol::ParseStatus::BadFormat:
      reply("BAD_FORMAT\r\n");
      break;
    case protocol::ParseStatus::UnknownCommand:
      reply("UNKNOWN_COMMAND\r\n");
      break;
    case protocol::ParseStatus::Ok:
      execute(command);
      break;
  }
  return true;
}

// --- writing -------------------------------------------------------------------

void Connection::reply(std::string_view line) {
  if (server_.trace_enabled()) spdlog::trace("{} -> {}", peer_, line.substr(0, line.size() - 2));
  queue(line.data(), line.size());
}

void Connection::queue(const char* bytes, std::size_t n) {
  if (dropping_) return;
  try {
    if (evbuffer_get_length(out_) == 0 && staged_.append(bytes, n)) return;
  } catch (const std::bad_alloc&) {  // no staging buffer to be had
    drop_for_lack_of_memory("reply");
    return;
  }
  // libevent allocates before it copies: a failed add adds nothing.
  if (!spill_staged() || evbuffer_add(out_, bytes, n) != 0) drop_for_lack_of_memory("reply");
}

// Moves the staged bytes into out_, ahead of whatever follows them there;
// false, moving nothing, without memory for it.
bool Connection::spill_staged() {
  if (staged_.empty()) return true;
  if (evbuffer_add(out_, staged_.data(), staged_.size()) != 0) return false;
  staged_.release();
  return true;
}

// Without memory for a reply's bytes (or for an event that serving the
// client needs), the client would wait for a reply that never comes, or
// take the next one for it. Its connection is dropped instead: closed at the
// end of the turn (not here, where a store operation may be under way),
// with nothing more sent; its reserved jobs go back to ready.
void Connection::drop_for_lack_of_memory(std::string_view what) {
  if (dropping_) return;
  dropping_ = true;
  note_closing_for_lack_of_memory(what);
  staged_.release();
  evbuffer_drain(out_, evbuffer_get_length(out_));
  close_after_flush();
}

// Gives the emergency memory back and counts in the server's episode of
// refusals, as every refusal for lack of memory does, and says which
// connection goes and why.
void Connection::note_closing_for_lack_of_memory(std::string_view what) {
  server_.note_out_of_memory(what);
  spdlog::warn("{}: out of memory for a {}; closing the connection", peer_, what);
}

void Connection::unpin_job(const void*, size_t, void* job) {
  static_cast<Job*>(job)->unpin();
}

void Connection::reply_job(std::string_view word, Job& job) {
  std::string from_log;
  if (job.body_in_log) {
    // A job whose body stayed in the log: read it back before
    // anything is written, so that a failure gets an error line of its own
    // (the log says which file and offset).
    bool unreadable = false;
    try {
      from_log.resize(job.body_size + kCrlf.size());
      unreadable = !server_.store().copy_body(job, from_log.data());
      if (unreadable) reply("INTERNAL_ERROR\r\n");
    } catch (const std::bad_alloc&) {
      refuse_for_lack_of_memory(word == "RESERVED" ? "reserve" : "peek");
      if (word == "RESERVED") put_back_on_resume(job.id, false);
      return;
    }
    if (unreadable) {
      if (word == "RESERVED") put_back_on_resume(job.id, true);
      return;
    }
    from_log.replace(job.body_size, kCrlf.size(), kCrlf);
  }
  reply(protocol::ReplyLine(word).number(job.id).number(job.body_size).finish());
  std::size_t len = job.body_size + 2;
  if (job.body_in_log) {
    queue(from_log.data(), from_log.size());
  } else if (len < kReferenceBodyThreshold) {
    queue(job.body_with_crlf(), len);
  } else {
    // The job may be deleted before the bytes leave; the pin keeps its
    // memory alive until libevent is done with them.
    job.pin();
    if (!spill_staged() ||
        evbuffer_add_reference(out_, job.body_with_crlf(), len, unpin_job, &job) != 0) {
      job.unpin();
      drop_for_lack_of_memory("reply");
    }
  }
}

void Connection::reply_yaml(const std::string& body) {
  reply(protocol::ReplyLine("OK").number(body.size()).finish());
  queue(body.data(), body.size());
  queue(kCrlf.data(), kCrlf.size());
}

void Connection::on_write_event(evutil_socket_t, short, void* self) {
  static_cast<Connection*>(self)->flush();
}

void Connection::flush() {
  dirty_ = false;
  if (state_ == State::Closed) return;
  if (!dropping_ &&
      (hold_sequence_ > server_.reply_watermark() || written_hold_ > server_.written_watermark())) {
    // A reply reports a change the log has not yet made durable (-f 0), a
    // put whose large record is not yet written, or a change whose record
    // a failed write left unwritten.
    server_.hold(this);
    return;
  }
  // At most kMaxBytesPerTurn; the write event sends the rest in later turns.
  std::size_t budget = kMaxBytesPerTurn;
  if (!staged_.empty()) {
    // Staged bytes exist only while out_ is empty: they go first, and what
    // the socket does not take moves to out_.
    ssize_t n = send(fd_, staged_.data(), staged_.size(), MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      spdlog::debug("{}: write failed: {}", peer_, std::strerror(errno));
      close();
      return;
    }
    const std::size_t sent = n > 0 ? static_cast<std::size_t>(n) : 0;
    if (sent < staged_.size() &&
        evbuffer_add(out_, staged_.data() + sent, staged_.size() - sent) != 0) {
      // The rest of a reply is lost: the client must not read on as if not.
      // Closed at once: a flush runs outside any store operation.
      note_closing_for_lack_of_memory("reply");
      close();
      return;
    }
    staged_.release();
    budget -= std::min(budget, sent);
  }
  while (evbuffer_get_length(out_) > 0 && budget > 0) {
    int n = evbuffer_write_atmost(out_, fd_, static_cast<ev_ssize_t>(budget));
    if (n > 0) {
      budget -= std::min(budget, static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) break;
    spdlog::debug("{}: write failed: {}", peer_, n < 0 ? std::strerror(errno) : "closed");
    close();
    return;
  }
  bool pending = evbuffer_get_length(out_) > 0;
  if (pending != writing_) {
    if (pending) {
      // Only a connection whose reader is slow ever needs a write event.
      if (!write_event_)
        write_event_ = event_new(server_.base(), fd_, EV_WRITE | EV_PERSIST, on_write_event, this);
      if (!write_event_) {
        // Nothing would send the rest.
        note_closing_for_lack_of_memory("write event");
        close();
        return;
      }
      event_add(write_event_, nullptr);
    } else {
      event_del(write_event_);
    }
    writing_ = pending;
  }
  if (!pending && closing_) {
    close();
    return;
  }
  if (output_stalled_ && evbuffer_get_length(out_) < kMaxPendingOutput) {
    output_stalled_ = false;
    schedule_resume();
  }
  in_.release_if_empty();
  update_read_interest();
}

// --- reserve outcomes ------------------------------------------------------------

void Connection::on_reserved(Job& job) {
  reply_job("RESERVED", job);
  if (state_ == State::Waiting) wake();
  mark_dirty();
}

void Connection::on_wait_ended(WaitEnd why) {
  reply(why == WaitEnd::TimedOut ? "TIMED_OUT\r\n" : "DEADLINE_SOON\r\n");
  if (state_ == State::Waiting) wake();
  mark_dirty();
}

}  // namespace beanstalkd::server
