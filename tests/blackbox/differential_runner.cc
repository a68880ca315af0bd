#include "differential_runner.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "harness.h"

namespace bbt {
namespace {

using namespace std::chrono_literals;

// ------------------------------------------------------------ running a script

struct Transcript {
  std::vector<std::string> streams;  // raw bytes per connection
  std::vector<bool> closed;          // server closed the connection
  std::vector<bool> dropped;         // the script closed the connection
  std::string error;                 // harness trouble (not a mismatch)
};

std::size_t count_crlf(const std::string& s) {
  std::size_t n = 0;
  for (std::size_t pos = s.find("\r\n"); pos != std::string::npos; pos = s.find("\r\n", pos + 2))
    ++n;
  return n;
}

std::optional<std::size_t> to_size(const std::string& s) {
  if (s.empty() || s.size() > 19 || s.find_first_not_of("0123456789") != std::string::npos) {
    return std::nullopt;
  }
  return static_cast<std::size_t>(std::stoull(s));
}

// The body size a reply line announces: "OK <bytes>", "RESERVED <id> <bytes>"
// or "FOUND <id> <bytes>"; nullopt for any other line.
std::optional<std::size_t> announced_body_size(const std::string& line) {
  std::vector<std::string> words;
  for (std::size_t i = 0; i <= line.size();) {
    const std::size_t sp = std::min(line.find(' ', i), line.size());
    words.push_back(line.substr(i, sp - i));
    i = sp + 1;
  }
  if (words.size() == 2 && words[0] == "OK") return to_size(words[1]);
  if (words.size() == 3 && (words[0] == "RESERVED" || words[0] == "FOUND"))
    return to_size(words[2]);
  return std::nullopt;
}

// One reply with its CRLFs: a line, and the body that an OK, RESERVED or
// FOUND line announces. A missing reply is a marker in the stream.
std::string read_one_reply(Client& c) {
  try {
    const std::string line = c.read_line(3000ms);
    std::string reply = line + "\r\n";
    if (auto size = announced_body_size(line)) reply += c.read_exact(*size + 2, 3000ms);
    return reply;
  } catch (const HarnessError&) {
    return "<no reply>";
  }
}

Transcript run_case(const std::string& binary, const Case& tc) {
  Transcript t;
  try {
    ServerProcess server(binary, Transport::Tcp, tc.args);
    std::vector<Client> conns;
    auto conn = [&](int i) -> Client& {
      const auto idx = static_cast<std::size_t>(i);
      while (conns.size() <= idx) {
        conns.push_back(server.connect());
        t.streams.emplace_back();
        t.closed.push_back(false);
        t.dropped.push_back(false);
      }
      return conns[idx];
    };
    auto drain = [&](int i, Millis wait) {
      Client& c = conn(i);
      if (!c.is_open()) return;
      bool eof = false;
      const auto idx = static_cast<std::size_t>(i);
      t.streams[idx] += c.read_until_eof(wait, &eof);
      if (eof) {
        t.closed[idx] = true;
        c.close();
      }
    };
    for (const Step& st : tc.steps) {
      switch (st.kind) {
        case Step::Kind::Send: {
          Client& c = conn(st.conn);
          if (c.is_open() && !c.try_send(st.data)) {
            t.error += "send failed on connection " + std::to_string(st.conn) + "; ";
          }
          break;
        }
        case Step::Kind::Request: {
          Client& c = conn(st.conn);
          if (!c.is_open()) break;
          if (!c.try_send(st.data)) {
            t.error += "send failed on connection " + std::to_string(st.conn) + "; ";
            break;
          }
          t.streams[static_cast<std::size_t>(st.conn)] += read_one_reply(c);
          break;
        }
        case Step::Kind::Sleep:
          std::this_thread::sleep_for(Millis(st.amount));
          break;
        case Step::Kind::Sync: {
          Client& c = conn(st.conn);
          const auto idx = static_cast<std::size_t>(st.conn);
          const std::size_t want = count_crlf(t.streams[idx]) + static_cast<std::size_t>(st.amount);
          const auto deadline = std::chrono::steady_clock::now() + 3000ms;
          while (c.is_open() && count_crlf(t.streams[idx]) < want &&
                 std::chrono::steady_clock::now() < deadline) {
            drain(st.conn, 20ms);
          }
          if (count_crlf(t.streams[idx]) < want) t.streams[idx] += "<sync timed out>";
          break;
        }
        case Step::Kind::Signal:
          server.send_signal(st.amount);
          break;
        case Step::Kind::Close: {
          Client& c = conn(st.conn);
          if (c.is_open()) {
            const auto idx = static_cast<std::size_t>(st.conn);
            t.streams[idx] += c.read_until_eof(Millis(0));
            t.dropped[idx] = true;
            c.close();
          }
          break;
        }
      }
    }
    if (conns.empty()) conn(0);
    for (std::size_t i = 0; i < conns.size(); ++i) {
      if (conns[i].is_open()) conns[i].shutdown_write();
      drain(static_cast<int>(i), 3000ms);
    }
  } catch (const std::exception& e) {
    t.error += e.what();
  }
  return t;
}

// ------------------------------------------------------------ normalising

const std::set<std::string>& masked_stats_keys() {
  static const std::set<std::string> keys = {"pid",          "uptime",   "rusage-utime",
                                             "rusage-stime", "id",       "hostname",
                                             "os",           "platform", "version"};
  return keys;
}

// Normalises a YAML body: drops double quotes around values and, in a
// server-wide stats body, masks values that differ between any two servers.
std::string normalise_yaml(const std::string& body) {
  std::vector<std::string> lines;
  std::size_t pos = 0;
  bool is_stats = false;
  while (pos < body.size()) {
    std::size_t nl = body.find('\n', pos);
    if (nl == std::string::npos) nl = body.size();
    lines.push_back(body.substr(pos, nl - pos));
    if (lines.back().rfind("rusage-utime: ", 0) == 0) is_stats = true;
    pos = nl + 1;
  }
  std::string out;
  for (const auto& line : lines) {
    const std::size_t colon = line.find(": ");
    if (line.rfind("- ", 0) == 0) {
      out += "- " + unquote(line.substr(2));
    } else if (colon != std::string::npos) {
      const std::string key = line.substr(0, colon);
      std::string value = unquote(line.substr(colon + 2));
      if (is_stats && masked_stats_keys().count(key) != 0) value = "*";
      out += key + ": " + value;
    } else {
      out += line;
    }
    out += '\n';
  }
  if (!body.empty() && body.back() != '\n') out += "<no final newline>";
  return out;
}

// Escaped bytes; a long body is cut to its start, its length and a hash.
std::string shorten(const std::string& body) {
  if (body.size() <= 300) return visible(body);
  std::uint32_t h = 2166136261u;
  for (const char ch : body) {
    h ^= static_cast<unsigned char>(ch);
    h *= 16777619u;
  }
  char tail[64];
  std::snprintf(tail, sizeof tail, "...(%zu bytes, fnv1a %08x)", body.size(), h);
  return visible(body.substr(0, 100)) + tail;
}

std::string render(const Transcript& t) {
  std::string out;
  for (std::size_t i = 0; i < t.streams.size(); ++i) {
    out += "== connection " + std::to_string(i) + "\n";
    out += normalise_stream(t.streams[i]);
    out += t.dropped[i]  ? "<closed by the script>\n"
           : t.closed[i] ? "<closed by server>\n"
                         : "<still open after 3 s>\n";
  }
  return out;
}

}  // namespace

// Renders a reply stream one reply per line, bodies indented, with control
// bytes escaped, so a mismatch reads well in gtest's diff.
std::string normalise_stream(const std::string& raw) {
  std::string out;
  std::size_t pos = 0;
  while (pos < raw.size()) {
    const std::size_t end = raw.find("\r\n", pos);
    if (end == std::string::npos) {
      out += "<partial line> " + visible(raw.substr(pos)) + "\n";
      break;
    }
    const std::string line = raw.substr(pos, end - pos);
    pos = end + 2;
    const std::optional<std::size_t> body_len = announced_body_size(line);
    if (body_len &&
        (raw.size() < pos + *body_len + 2 || raw.compare(pos + *body_len, 2, "\r\n") != 0)) {
      out += visible(line) + "   <declared body length does not match the stream>\n";
      continue;
    }
    if (body_len && line.rfind("OK ", 0) == 0) {
      const std::string body = normalise_yaml(raw.substr(pos, *body_len));
      pos += *body_len + 2;
      out += "OK <" + std::to_string(body.size()) + " after normalising>\n";
      std::size_t b = 0;
      while (b < body.size()) {
        std::size_t nl = body.find('\n', b);
        if (nl == std::string::npos) nl = body.size();
        out += "    | " + visible(body.substr(b, nl - b)) + "\n";
        b = nl + 1;
      }
      continue;
    }
    if (body_len) {
      out += visible(line) + "\n    body: \"" + shorten(raw.substr(pos, *body_len)) + "\"\n";
      pos += *body_len + 2;
      continue;
    }
    out += visible(line) + "\n";
  }
  return out;
}

std::string describe_script(const Case& tc) {
  std::string out;
  for (const auto& a : tc.args) out += "[arg " + a + "] ";
  for (const Step& st : tc.steps) {
    switch (st.kind) {
      case Step::Kind::Send: {
        std::string shown = visible(st.data);
        if (shown.size() > 300)
          shown = shown.substr(0, 300) + "...(" + std::to_string(st.data.size()) + " bytes)";
        out += "[" + std::to_string(st.conn) + "] \"" + shown + "\" ";
        break;
      }
      case Step::Kind::Request:
        out += "[" + std::to_string(st.conn) + " request] \"" + visible(st.data) + "\" ";
        break;
      case Step::Kind::Sleep:
        out += "[sleep " + std::to_string(st.amount) + "ms] ";
        break;
      case Step::Kind::Sync:
        out += "[sync " + std::to_string(st.conn) + ":" + std::to_string(st.amount) + "] ";
        break;
      case Step::Kind::Signal:
        out += "[signal " + std::to_string(st.amount) + "] ";
        break;
      case Step::Kind::Close:
        out += "[close " + std::to_string(st.conn) + "] ";
        break;
    }
  }
  return out;
}

void PrintTo(const Case& tc, std::ostream* os) {
  *os << tc.name;
}

void expect_same_replies_as_reference(const Case& tc) {
  const std::string ours = server_binary();
  const std::string ref = reference_binary();
  if (!is_executable(ref)) GTEST_SKIP() << "reference server not found: " << ref;
  ASSERT_TRUE(is_executable(ours)) << "server under test not found: " << ours;

  Transcript t_ref;
  Transcript t_ours;
  std::thread th([&] { t_ref = run_case(ref, tc); });
  t_ours = run_case(ours, tc);
  th.join();
  ASSERT_EQ(t_ref.error, "") << "harness error with the reference";
  ASSERT_EQ(t_ours.error, "") << "harness error with the server under test";
  const std::string r_ref = render(t_ref);
  const std::string r_ours = render(t_ours);
  if (std::getenv("BBT_SHOW_TRANSCRIPTS") != nullptr) {
    std::printf("script: %s\n--- reference:\n%s", describe_script(tc).c_str(), r_ref.c_str());
  }
  EXPECT_EQ(r_ours, r_ref) << "script: " << describe_script(tc)
                           << "\n(first: server under test, second: reference; in the diff - is "
                              "the server under test, + the reference)";
}

}  // namespace bbt
