// What each command does and answers: the bridge from a parsed Command to
// the store and back to reply bytes.
#include <algorithm>
#include <new>
#include <string>

#include "beanstalkd/protocol/reply_line.h"
#include "beanstalkd/protocol/stats_yaml.h"
#include "beanstalkd/server/connection.h"
#include "beanstalkd/server/server.h"

namespace beanstalkd::server {

namespace {

using protocol::Op;

std::uint64_t whole_seconds(Nanos ns) {
  return ns > 0 ? static_cast<std::uint64_t>(ns / kNanosPerSecond) : 0;
}

}  // namespace

// A change the log cannot record (`allowed` false) is refused the way the
// reference refuses a change it cannot reserve log space for.
bool Connection::refuse_unless(bool allowed) {
  if (allowed) return false;
  reply("OUT_OF_MEMORY\r\n");
  return true;
}

void Connection::hold_for_log() {
  hold_sequence_ = std::max(hold_sequence_, server_.hold_sequence());
  written_hold_ = server_.change_sequence();
}

void Connection::execute(const protocol::Command& cmd) {
  if (!server_.times_commands()) {
    run_or_refuse(cmd);
    return;
  }
  const Nanos started = server_.now();
  run_or_refuse(cmd);
  server_.record_latency(cmd.op, server_.now() - started);
}

// The store makes the room a command needs before it changes anything, and
// throws std::bad_alloc with nothing changed when the system has none (see
// Store::make_room_for_put): that command alone is refused.
void Connection::run_or_refuse(const protocol::Command& cmd) {
  try {
    run(cmd);
  } catch (const std::bad_alloc&) {
    refuse_for_lack_of_memory(protocol::op_name(cmd.op));
  }
}

void Connection::refuse_for_lack_of_memory(std::string_view what) {
  server_.note_out_of_memory(what);
  reply("OUT_OF_MEMORY\r\n");
}

void Connection::run(const protocol::Command& cmd) {
  Store& store = server_.store();
  // Counted once the command parses, whatever it answers, as the reference.
  server_.count(cmd.op);
  switch (cmd.op) {
    case Op::Put:
      start_put(cmd);
      return;
    case Op::Reserve:
    case Op::ReserveWithTimeout: {
      std::optional<std::uint32_t> timeout;
      if (cmd.op == Op::ReserveWithTimeout) timeout = cmd.count;
      // A client that has half-closed cannot wait: as from the reference, its
      // reserve takes a ready job or answers TIMED_OUT at once.
      if (peer_sends_nothing_more()) timeout = 0;
      store.reserve(session_, timeout);
      if (session_.waiting) state_ = State::Waiting;
      return;
    }
    case Op::ReserveJob: {
      if (!store.reserve_job(session_, cmd.id)) reply("NOT_FOUND\r\n");
      return;
    }
    case Op::Delete:
      if (refuse_unless(server_.deletes_allowed())) return;
      reply(store.delete_job(session_, cmd.id) ? "DELETED\r\n" : "NOT_FOUND\r\n");
      hold_for_log();
      return;
    case Op::Release:
      // One that changes nothing a restart restores is only counted, and a
      // full log takes it as the reference takes any release without delay.
      if (refuse_unless(server_.updates_allowed() > 0 ||
                        store.release_only_counts(session_, cmd.id, cmd.priority, cmd.delay)))
        return;
      reply(store.release(session_, cmd.id, cmd.priority, cmd.delay) ? "RELEASED\r\n"
                                                                     : "NOT_FOUND\r\n");
      hold_for_log();
      return;
    case Op::Bury:
      if (refuse_unless(server_.updates_allowed() > 0)) return;
      reply(store.bury(session_, cmd.id, cmd.priority) ? "BURIED\r\n" : "NOT_FOUND\r\n");
      hold_for_log();
      return;
    case Op::Touch:
      reply(store.touch(session_, cmd.id) ? "TOUCHED\r\n" : "NOT_FOUND\r\n");
      return;
    case Op::Kick: {
      if (refuse_unless(server_.updates_allowed() > 0)) return;
      // A full log may have room for fewer: kick those, as the reference
      // kicks until its log refuses one.
      const auto bound =
          static_cast<std::uint32_t>(std::min<std::uint64_t>(cmd.count, server_.updates_allowed()));
      reply(protocol::ReplyLine("KICKED").number(store.kick(session_, bound)).finish());
      hold_for_log();
      return;
    }
    case Op::KickJob:
      if (refuse_unless(server_.updates_allowed() > 0)) return;
      reply(store.kick_job(cmd.id) ? "KICKED\r\n" : "NOT_FOUND\r\n");
      hold_for_log();
      return;
    case Op::Peek:
    case Op::PeekReady:
    case Op::PeekDelayed:
    case Op::PeekBuried: {
      Job* job = cmd.op == Op::Peek          ? store.find_job(cmd.id)
                 : cmd.op == Op::PeekReady   ? store.peek_ready(session_)
                 : cmd.op == Op::PeekDelayed ? store.peek_delayed(session_)
                                             : store.peek_buried(session_);
      if (job) {
        reply_job("FOUND", *job);
      } else {
        reply("NOT_FOUND\r\n");
      }
      return;
    }
    case Op::Use:
      store.use(session_, cmd.tube);
      reply("USING " + std::string(cmd.tube) + "\r\n");
      return;
    case Op::ListTubeUsed:
      reply("USING " + session_.used->name + "\r\n");
      return;
    case Op::Watch:
      reply(protocol::ReplyLine("WATCHING").number(store.watch(session_, cmd.tube)).finish());
      return;
    case Op::Ignore: {
      auto remaining = store.ignore(session_, cmd.tube);
      if (!remaining) {
        reply("NOT_IGNORED\r\n");
      } else {
        reply(protocol::ReplyLine("WATCHING").number(*remaining).finish());
      }
      return;
    }
    case Op::PauseTube:
      if (cmd.bad_after_count) {
        reply("BAD_FORMAT\r\n");
        return;
      }
      reply(store.pause_tube(cmd.tube, cmd.delay) ? "PAUSED\r\n" : "NOT_FOUND\r\n");
      return;
    case Op::Stats:
      reply_yaml(protocol::render_server_stats(server_.stats_snapshot()));
      return;
    case Op::StatsJob:
      reply_stats_job(cmd.id);
      return;
    case Op::StatsTube:
      reply_stats_tube(cmd.tube);
      return;
    case Op::ListTubes: {
      std::vector<std::string_view> names;
      for (const Tube* tube : store.tubes()) names.push_back(tube->name);
      reply_yaml(protocol::render_name_list(names));
      return;
    }
    case Op::ListTubesWatched: {
      std::vector<std::string_view> names;
      for (const auto& link : session_.watched) names.push_back(link->tube->name);
      reply_yaml(protocol::render_name_list(names));
      return;
    }
    case Op::Quit:
      close_after_flush();
      return;
  }
}

// The reference's order of checks: size limit (drain the body, JOB_TOO_BIG),
// then trailing text (BAD_FORMAT); the CRLF and drain mode are checked once
// the body is in.
void Connection::start_put(const protocol::Command& cmd) {
  if (cmd.body_size > server_.options().max_job_size) {
    state_ = State::Discard;
    discard_left_ = static_cast<std::uint64_t>(cmd.body_size) + 2;
    discard_reply_ = "JOB_TOO_BIG\r\n";
    return;
  }
  if (cmd.bad_after_count) {
    reply("BAD_FORMAT\r\n");
    return;
  }
  server_.store().mark_producer(session_);
  pending_job_ = server_.puts_have_memory() ? server_.store().allocate_job(cmd.body_size) : nullptr;
  if (!pending_job_) {
    server_.note_out_of_memory("put");
    state_ = State::Discard;
    discard_left_ = static_cast<std::uint64_t>(cmd.body_size) + 2;
    discard_reply_ = "OUT_OF_MEMORY\r\n";
    return;
  }
  body_filled_ = 0;
  put_priority_ = cmd.priority;
  put_delay_ = cmd.delay;
  put_ttr_ = cmd.ttr;
  state_ = State::Body;
}

void Connection::finish_put() {
  Job* job = pending_job_;
  pending_job_ = nullptr;
  state_ = State::Command;
  const char* tail = job->body_with_crlf() + job->body_size;
  if (tail[0] != '\r' || tail[1] != '\n') {
    server_.store().discard_job(job);
    reply("EXPECTED_CRLF\r\n");
    return;
  }
  if (server_.draining()) {
    server_.store().discard_job(job);
    reply("DRAINING\r\n");
    return;
  }
  if (!server_.changes_allowed()) {
    server_.store().discard_job(job);
    reply("OUT_OF_MEMORY\r\n");
    return;
  }
  std::uint64_t id = job->id;
  try {
    server_.store().put(session_, job, put_priority_, put_delay_, put_ttr_);
  } catch (const std::bad_alloc&) {
    server_.store().discard_job(job);  // still ours: the store took nothing
    refuse_for_lack_of_memory("put");
    return;
  }
  server_.note_put_succeeded();
  reply(protocol::ReplyLine("INSERTED").number(id).finish());
  hold_for_log();
}

void Connection::reply_stats_job(std::uint64_t id) {
  Store& store = server_.store();
  const Job* job = store.find_job(id);
  if (!job) {
    reply("NOT_FOUND\r\n");
    return;
  }
  const Nanos now = store.clock().now();
  protocol::JobStats s;
  s.id = job->id;
  s.tube = job->tube->name;
  s.state = job_state_name(job->state);
  s.priority = job->priority;
  s.age = whole_seconds(now - job->created_at);
  s.delay = job->delay_seconds;
  s.ttr = job->ttr_seconds;
  const JobActivity& activity = job->activity();
  if (job->state == JobState::Reserved || job->state == JobState::Delayed)
    s.time_left = whole_seconds(activity.deadline_at - now);
  s.file = job->wal_file;
  s.counts = activity.counts;
  reply_yaml(protocol::render_job_stats(s));
}

void Connection::reply_stats_tube(std::string_view name) {
  const Tube* tube = server_.store().find_tube(name);
  if (!tube) {
    reply("NOT_FOUND\r\n");
    return;
  }
  reply_yaml(protocol::render_tube_stats(snapshot(*tube, server_.store().clock().now())));
}

}  // namespace beanstalkd::server
