// Random differential tests: a seeded generator writes a long stream of
// commands, well-formed and malformed, and the stream goes to the server under
// test and to the reference as one differential script (differential_runner.h):
// the reply streams must be equal. The table in differential_test.cc covers
// each case on purpose; this covers the combinations nobody thought to write.
//
// Two kinds of script: one connection with everything pipelined, and two
// connections taking turns, each command awaiting its reply (so that jobs
// one connection holds meet the other's commands). No timers (delays of 10 s
// and more, long TTRs, timeouts of 0), and none of the project's deliberate
// differences from the reference (doc/compatibility.md): no bare CRs, no
// overlong command lines, no reserve-with-timeout arguments other than plain
// digits. Everything else in the grammar goes in, including bad numbers, bad
// tube names, bodies too short or too long, commands without arguments.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "differential_runner.h"

namespace bbt {
namespace {

class CommandGenerator {
 public:
  explicit CommandGenerator(std::uint64_t seed) : random_(seed) {}

  // `count` commands on one connection, each sent as a step of its own so
  // that the server sees them pipelined in whatever chunks the kernel makes.
  Case script(const std::string& name, int count) {
    Case c{name, {}};
    for (int i = 0; i < count; ++i) {
      for (const std::string& line : command()) c.steps.push_back(S(line));
    }
    // Sometimes the client says goodbye; otherwise it half-closes.
    if (chance(50)) c.steps.push_back(S("quit\r\n"));
    return c;
  }

  // `count` commands over two connections, each awaiting its reply before
  // the next is sent, so the order between the connections is fixed. Only
  // commands that get exactly one reply: no body of the wrong size, no put
  // line whose body would be read as a command.
  Case two_connection_script(const std::string& name, int count) {
    one_reply_each_ = true;
    Case c{name, {}};
    for (int i = 0; i < count; ++i) {
      const int conn = static_cast<int>(below(2));
      for (const std::string& line : command()) c.steps.push_back(R(conn, line));
    }
    return c;
  }

 private:
  // Uniform in [0, n): taken from the engine's raw output, which the
  // standard fixes for every library, unlike its distributions.
  std::size_t below(std::size_t n) { return static_cast<std::size_t>(random_() % n); }
  bool chance(int percent) { return below(100) < static_cast<std::size_t>(percent); }
  template <typename T>
  const T& pick(const std::vector<T>& items) {
    return items[below(items.size())];
  }

  // Mostly the ids of recent puts (and priorities, counts and bounds of the
  // same size); sometimes a bound or a malformed number.
  std::string number() {
    static const std::vector<std::string> odd = {"0",
                                                 "4294967295",
                                                 "4294967296",
                                                 "18446744073709551615",
                                                 "-1",
                                                 "abc",
                                                 "18446744073709551616",
                                                 "99999999999999999999999",
                                                 "01",
                                                 "1x",
                                                 "",
                                                 "+1"};
    if (chance(20)) return pick(odd);
    return std::to_string(puts_ > 6 ? puts_ - below(8) : below(8));
  }

  std::string tube() {
    static const std::vector<std::string> names = {
        "default", "a", "b-1", "ok_(x);$/.+", std::string(200, 'x'), std::string(201, 'x'),
        "-bad",    "",  "a b", "x\x01y"};
    return pick(names);
  }

  // Bytes without CR: a failed put's body is read as command lines, where a
  // bare CR is a deliberate difference.
  std::string body() {
    static const std::vector<std::string> pieces = {
        "a", "\n", std::string(1, '\0'), "zz", "\xff", " ", "OK 1", "RESERVED"};
    std::string b;
    for (std::size_t n = below(7); n > 0; --n) b += pick(pieces);
    return b;
  }

  std::string put() {
    ++puts_;
    const std::string payload = body();
    std::size_t declared = payload.size();
    std::string pri = std::to_string(below(3) * 1023);
    std::string delay = chance(80) ? "0" : std::to_string(10 + below(100));
    if (!one_reply_each_) {
      if (chance(10)) declared += 1;                  // the next command's first byte completes it
      if (chance(10) && declared > 0) declared -= 1;  // EXPECTED_CRLF
      if (chance(30)) pri = number();
      if (chance(10)) delay = pick(std::vector<std::string>{"-1", "x", ""});
    }
    static const std::vector<std::string> ttrs = {"100", "4294967295", "120"};
    return "put " + pri + " " + delay + " " + pick(ttrs) + " " + std::to_string(declared) + "\r\n" +
           payload + "\r\n";
  }

  // Reserves a job by id and does something with it, so that release, bury
  // and touch find jobs that this connection holds.
  std::vector<std::string> reserve_and_act() {
    const std::string id = number();
    const std::vector<std::string> actions = {"release " + id + " " + number() + " 0",
                                              "bury " + id + " " + number(), "touch " + id,
                                              "delete " + id, "stats-job " + id};
    return {"reserve-job " + id + "\r\n", pick(actions) + "\r\n"};
  }

  // One command, or a few that belong together.
  std::vector<std::string> command() {
    if (chance(25)) return {put()};
    if (chance(15)) return reserve_and_act();
    const std::vector<std::string> lines = {
        "use " + tube(),
        "watch " + tube(),
        "ignore " + tube(),
        "reserve-with-timeout 0",
        "reserve-job " + number(),
        "delete " + number(),
        "release " + number() + " " + number() + " 0",
        "bury " + number() + " " + number(),
        "touch " + number(),
        "kick " + number(),
        "kick-job " + number(),
        "peek " + number(),
        "peek-ready",
        "peek-delayed",
        "peek-buried",
        "stats-job " + number(),
        "stats-tube " + tube(),
        "pause-tube " + tube() + " 0",
        "list-tubes",
        "list-tube-used",
        "list-tubes-watched",
        "stats",
        // Malformed on purpose.
        "put",
        "put 1 2 3",
        "delete",
        "delete  1",
        "delete 1 ",
        "release 1 2",
        "bury 1",
        "kick",
        "watch",
        "use",
        "DELETE 1",
        "foo",
        "",
        "peek-ready x",
        "stats-job 1 2",
    };
    return {pick(lines) + "\r\n"};
  }

  std::mt19937_64 random_;
  std::size_t puts_ = 0;  // about the newest job's id
  bool one_reply_each_ = false;
};

class RandomDifferential : public ::testing::TestWithParam<std::uint64_t> {};

TEST_P(RandomDifferential, SameRepliesAsReference) {
  const std::uint64_t seed = GetParam();
  CommandGenerator generator(seed);
  expect_same_replies_as_reference(generator.script("seed " + std::to_string(seed), 400));
}

TEST_P(RandomDifferential, SameRepliesAsReferenceOverTwoConnections) {
  const std::uint64_t seed = GetParam();
  CommandGenerator generator(seed);
  expect_same_replies_as_reference(
      generator.two_connection_script("seed " + std::to_string(seed), 300));
}

// Fixed seeds: a failure is reproducible from the test's name.
INSTANTIATE_TEST_SUITE_P(Seeds, RandomDifferential, ::testing::Range<std::uint64_t>(1, 13));

TEST(CommandGeneratorTest, TheSameSeedWritesTheSameScript) {
  CommandGenerator a(7);
  CommandGenerator b(7);
  CommandGenerator c(8);
  const std::string sa = describe_script(a.script("a", 50));
  EXPECT_EQ(sa, describe_script(b.script("b", 50)));
  EXPECT_NE(sa, describe_script(c.script("c", 50)));
}

}  // namespace
}  // namespace bbt
