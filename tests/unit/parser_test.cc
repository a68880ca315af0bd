// The command-line grammar, checked against the reference server's exact
// matching and number rules (see /work/shared/reference/compat-notes.md,
// "Framing and parsing", and the reference's which_cmd/read_u32/read_u64/
// read_tube_name/is_valid_tube).
#include "beanstalkd/protocol/parser.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "beanstalkd/protocol/command.h"

namespace beanstalkd::protocol {

// Readable failure messages.
void PrintTo(ParseStatus s, std::ostream* os) {
  switch (s) {
    case ParseStatus::Ok:
      *os << "Ok";
      return;
    case ParseStatus::BadFormat:
      *os << "BadFormat";
      return;
    case ParseStatus::UnknownCommand:
      *os << "UnknownCommand";
      return;
  }
  *os << "ParseStatus(?)";
}

void PrintTo(Op op, std::ostream* os) {
  *os << "Op(" << op_name(op) << ")";
}

namespace {

ParseStatus status_of(std::string_view line) {
  Command c;
  return parse_command(line, c);
}

// Parses a line that must be Ok and returns the command. The caller keeps
// `line` alive while it looks at `tube`.
Command parsed(std::string_view line) {
  Command c;
  EXPECT_EQ(parse_command(line, c), ParseStatus::Ok) << "line: \"" << line << "\"";
  return c;
}

void expect_all(ParseStatus want, const std::vector<std::string>& lines) {
  for (const std::string& line : lines) {
    SCOPED_TRACE("line: \"" + line + "\"");
    EXPECT_EQ(status_of(line), want);
  }
}

std::string repeat(char c, std::size_t n) {
  return std::string(n, c);
}

// ---------------------------------------------------------------------------
// Every command parses, with its fields.

TEST(Parser, PutParsesAllFourNumbers) {
  Command c = parsed("put 10 20 30 40");
  EXPECT_EQ(c.op, Op::Put);
  EXPECT_EQ(c.priority, 10u);
  EXPECT_EQ(c.delay, 20u);
  EXPECT_EQ(c.ttr, 30u);
  EXPECT_EQ(c.body_size, 40u);
  EXPECT_FALSE(c.bad_after_count);
}

TEST(Parser, PutAcceptsMaximumU32InEveryField) {
  Command c = parsed("put 4294967295 4294967295 4294967295 4294967295");
  EXPECT_EQ(c.priority, 4294967295u);
  EXPECT_EQ(c.delay, 4294967295u);
  EXPECT_EQ(c.ttr, 4294967295u);
  EXPECT_EQ(c.body_size, 4294967295u);
  EXPECT_FALSE(c.bad_after_count);
}

TEST(Parser, PutAcceptsZeroes) {
  Command c = parsed("put 0 0 0 0");
  EXPECT_EQ(c.priority, 0u);
  EXPECT_EQ(c.delay, 0u);
  EXPECT_EQ(c.ttr, 0u);  // raised to 1 by the store, not the parser
  EXPECT_EQ(c.body_size, 0u);
}

TEST(Parser, PeekParsesId) {
  Command c = parsed("peek 42");
  EXPECT_EQ(c.op, Op::Peek);
  EXPECT_EQ(c.id, 42u);
}

TEST(Parser, PeekReadyDelayedBuriedParse) {
  EXPECT_EQ(parsed("peek-ready").op, Op::PeekReady);
  EXPECT_EQ(parsed("peek-delayed").op, Op::PeekDelayed);
  EXPECT_EQ(parsed("peek-buried").op, Op::PeekBuried);
}

TEST(Parser, ReserveParses) {
  EXPECT_EQ(parsed("reserve").op, Op::Reserve);
}

TEST(Parser, ReserveWithTimeoutParsesSeconds) {
  Command c = parsed("reserve-with-timeout 30");
  EXPECT_EQ(c.op, Op::ReserveWithTimeout);
  EXPECT_EQ(c.count, 30u);
}

TEST(Parser, ReserveJobParsesId) {
  Command c = parsed("reserve-job 7");
  EXPECT_EQ(c.op, Op::ReserveJob);
  EXPECT_EQ(c.id, 7u);
}

TEST(Parser, DeleteParsesId) {
  Command c = parsed("delete 5");
  EXPECT_EQ(c.op, Op::Delete);
  EXPECT_EQ(c.id, 5u);
}

TEST(Parser, ReleaseParsesIdPriorityDelay) {
  Command c = parsed("release 9 100 3");
  EXPECT_EQ(c.op, Op::Release);
  EXPECT_EQ(c.id, 9u);
  EXPECT_EQ(c.priority, 100u);
  EXPECT_EQ(c.delay, 3u);
}

TEST(Parser, BuryParsesIdPriority) {
  Command c = parsed("bury 9 100");
  EXPECT_EQ(c.op, Op::Bury);
  EXPECT_EQ(c.id, 9u);
  EXPECT_EQ(c.priority, 100u);
}

TEST(Parser, KickParsesBound) {
  Command c = parsed("kick 12");
  EXPECT_EQ(c.op, Op::Kick);
  EXPECT_EQ(c.count, 12u);
}

TEST(Parser, KickZeroParses) {
  EXPECT_EQ(parsed("kick 0").count, 0u);
}

TEST(Parser, KickBoundTakesTheFullU32Range) {
  EXPECT_EQ(parsed("kick 4294967295").count, 4294967295u);
}

// kick's bound is read as the reference reads it, with a bare strtoul:
// leading white space, an optional sign, then digits, and anything after
// the digits ignored; only "no digits" and a 64-bit overflow are
// BAD_FORMAT. Checked against Debian's beanstalkd 1.12: "kick -1",
// "kick +1", "kick 1 ", "kick \t1", "kick 1x", "kick 1 2" and
// "kick 18446744073709551615" answer KICKED; "kick ", "kick x", "kick -",
// "kick - 1" and "kick 18446744073709551616" answer BAD_FORMAT.
TEST(Parser, KickBoundIgnoresTextAfterTheDigits) {
  for (std::string line : {"kick 1 ", "kick 1x", "kick 1,000", "kick 1 2", "kick 1\t"}) {
    SCOPED_TRACE(line);
    EXPECT_EQ(parsed(line).count, 1u);
  }
}

TEST(Parser, KickBoundSkipsLeadingWhiteSpace) {
  for (std::string line : {"kick  3", "kick \t3", "kick \v3", "kick \t 3"}) {
    SCOPED_TRACE(line);
    EXPECT_EQ(parsed(line).count, 3u);
  }
}

TEST(Parser, KickBoundTakesASign) {
  EXPECT_EQ(parsed("kick +7").count, 7u);
  // A negative bound wraps around to a huge one: kick everything.
  EXPECT_EQ(parsed("kick -1").count, UINT32_MAX);
  EXPECT_EQ(parsed("kick  -1").count, UINT32_MAX);
}

TEST(Parser, KickBoundAboveU32IsCutTo32BitsLikeTheReference) {
  EXPECT_EQ(parsed("kick 4294967296").count, 0u);
  EXPECT_EQ(parsed("kick 4294967297").count, 1u);
  EXPECT_EQ(parsed("kick 18446744073709551615").count, UINT32_MAX);
}

TEST(Parser, KickBoundWithoutDigitsOrOverflowingU64IsBadFormat) {
  expect_all(ParseStatus::BadFormat, {
                                         "kick ",
                                         "kick x",
                                         "kick -",
                                         "kick +",
                                         "kick - 1",
                                         "kick +-1",
                                         "kick 18446744073709551616",
                                         "kick 99999999999999999999",
                                     });
}

TEST(Parser, KickFollowedByATabIsUnknownCommand) {
  EXPECT_EQ(status_of("kick\t1"), ParseStatus::UnknownCommand);
}

TEST(Parser, KickJobParsesId) {
  Command c = parsed("kick-job 3");
  EXPECT_EQ(c.op, Op::KickJob);
  EXPECT_EQ(c.id, 3u);
}

TEST(Parser, TouchParsesId) {
  Command c = parsed("touch 8");
  EXPECT_EQ(c.op, Op::Touch);
  EXPECT_EQ(c.id, 8u);
}

TEST(Parser, StatsJobParsesId) {
  Command c = parsed("stats-job 11");
  EXPECT_EQ(c.op, Op::StatsJob);
  EXPECT_EQ(c.id, 11u);
}

TEST(Parser, StatsTubeParsesName) {
  std::string line = "stats-tube foo";
  Command c = parsed(line);
  EXPECT_EQ(c.op, Op::StatsTube);
  EXPECT_EQ(c.tube, "foo");
}

TEST(Parser, StatsParses) {
  EXPECT_EQ(parsed("stats").op, Op::Stats);
}

TEST(Parser, UseWatchIgnoreParseName) {
  std::string use = "use alpha";
  std::string watch = "watch beta";
  std::string ignore = "ignore gamma";
  Command u = parsed(use);
  Command w = parsed(watch);
  Command i = parsed(ignore);
  EXPECT_EQ(u.op, Op::Use);
  EXPECT_EQ(u.tube, "alpha");
  EXPECT_EQ(w.op, Op::Watch);
  EXPECT_EQ(w.tube, "beta");
  EXPECT_EQ(i.op, Op::Ignore);
  EXPECT_EQ(i.tube, "gamma");
}

TEST(Parser, TubeNameViewPointsIntoTheLine) {
  std::string line = "use somewhere";
  Command c = parsed(line);
  EXPECT_EQ(c.tube.data(), line.data() + 4);
}

TEST(Parser, ListCommandsParse) {
  EXPECT_EQ(parsed("list-tubes").op, Op::ListTubes);
  EXPECT_EQ(parsed("list-tube-used").op, Op::ListTubeUsed);
  EXPECT_EQ(parsed("list-tubes-watched").op, Op::ListTubesWatched);
}

TEST(Parser, QuitParses) {
  EXPECT_EQ(parsed("quit").op, Op::Quit);
}

TEST(Parser, PauseTubeParsesNameAndSeconds) {
  std::string line = "pause-tube foo 60";
  Command c = parsed(line);
  EXPECT_EQ(c.op, Op::PauseTube);
  EXPECT_EQ(c.tube, "foo");
  EXPECT_EQ(c.delay, 60u);
}

TEST(Parser, ParsingResetsTheCommandFromAnEarlierLine) {
  Command c;
  ASSERT_EQ(parse_command("put 1 2 3 4 junk", c), ParseStatus::Ok);
  ASSERT_TRUE(c.bad_after_count);
  ASSERT_EQ(parse_command("delete 5", c), ParseStatus::Ok);
  EXPECT_EQ(c.op, Op::Delete);
  EXPECT_EQ(c.id, 5u);
  EXPECT_EQ(c.priority, 0u);
  EXPECT_EQ(c.body_size, 0u);
  EXPECT_FALSE(c.bad_after_count);
}

TEST(Parser, OpNamesAreTheWireNames) {
  EXPECT_EQ(op_name(Op::Put), "put");
  EXPECT_EQ(op_name(Op::Peek), "peek");
  EXPECT_EQ(op_name(Op::PeekReady), "peek-ready");
  EXPECT_EQ(op_name(Op::ReserveWithTimeout), "reserve-with-timeout");
  EXPECT_EQ(op_name(Op::ReserveJob), "reserve-job");
  EXPECT_EQ(op_name(Op::Reserve), "reserve");
  EXPECT_EQ(op_name(Op::KickJob), "kick-job");
  EXPECT_EQ(op_name(Op::StatsJob), "stats-job");
  EXPECT_EQ(op_name(Op::StatsTube), "stats-tube");
  EXPECT_EQ(op_name(Op::ListTubesWatched), "list-tubes-watched");
  EXPECT_EQ(op_name(Op::Quit), "quit");
  EXPECT_EQ(op_name(Op::PauseTube), "pause-tube");
}

// ---------------------------------------------------------------------------
// Numbers.

TEST(Parser, LeadingZeroesAreFine) {
  EXPECT_EQ(parsed("delete 007").id, 7u);
  EXPECT_EQ(parsed("kick 0000").count, 0u);
  Command c = parsed("put 01 002 0003 00004");
  EXPECT_EQ(c.priority, 1u);
  EXPECT_EQ(c.delay, 2u);
  EXPECT_EQ(c.ttr, 3u);
  EXPECT_EQ(c.body_size, 4u);
}

TEST(Parser, MultipleSpacesBeforeANumberAreSkipped) {
  EXPECT_EQ(parsed("delete  5").id, 5u);
  EXPECT_EQ(parsed("delete     5").id, 5u);
  Command put = parsed("put  1   2    3     4");
  EXPECT_EQ(put.priority, 1u);
  EXPECT_EQ(put.delay, 2u);
  EXPECT_EQ(put.ttr, 3u);
  EXPECT_EQ(put.body_size, 4u);
  EXPECT_FALSE(put.bad_after_count);
  Command rel = parsed("release  1  2  3");
  EXPECT_EQ(rel.id, 1u);
  EXPECT_EQ(rel.priority, 2u);
  EXPECT_EQ(rel.delay, 3u);
  Command bury = parsed("bury  4  5");
  EXPECT_EQ(bury.id, 4u);
  EXPECT_EQ(bury.priority, 5u);
  EXPECT_EQ(parsed("reserve-with-timeout  9").count, 9u);
  EXPECT_EQ(parsed("kick  3").count, 3u);
}

TEST(Parser, IdsAcceptTheFullU64Range) {
  EXPECT_EQ(parsed("delete 18446744073709551615").id, UINT64_MAX);
  EXPECT_EQ(parsed("peek 18446744073709551615").id, UINT64_MAX);
  EXPECT_EQ(parsed("delete 0").id, 0u);
}

TEST(Parser, IdsOverflowingU64AreBadFormat) {
  expect_all(ParseStatus::BadFormat, {
                                         "delete 18446744073709551616",
                                         "peek 18446744073709551616",
                                         "reserve-job 18446744073709551616",
                                         "kick-job 18446744073709551616",
                                         "touch 18446744073709551616",
                                         "stats-job 18446744073709551616",
                                         "release 18446744073709551616 1 1",
                                         "bury 18446744073709551616 1",
                                         "delete 99999999999999999999999999",
                                     });
}

TEST(Parser, U32FieldsOverflowAtTwoToThe32) {
  expect_all(ParseStatus::Ok, {
                                  "put 4294967295 0 0 0",
                                  "put 0 4294967295 0 0",
                                  "put 0 0 4294967295 0",
                                  "put 0 0 0 4294967295",
                                  "release 1 4294967295 4294967295",
                                  "bury 1 4294967295",
                                  "pause-tube foo 4294967295",
                              });
  expect_all(ParseStatus::BadFormat, {
                                         "put 4294967296 0 0 0",
                                         "put 0 4294967296 0 0",
                                         "put 0 0 4294967296 0",
                                         "put 0 0 0 4294967296",
                                         "release 1 4294967296 0",
                                         "release 1 0 4294967296",
                                         "bury 1 4294967296",
                                         "pause-tube foo 4294967296",
                                         "put 18446744073709551616 0 0 0",
                                     });
}

TEST(Parser, SignedNumbersAreBadFormat) {
  expect_all(ParseStatus::BadFormat, {
                                         "delete -1",
                                         "delete +1",
                                         "put -1 0 0 0",
                                         "put +1 0 0 0",
                                         "put 0 -1 0 0",
                                         "put 0 0 +1 0",
                                         "put 0 0 0 -1",
                                         "release 1 -1 0",
                                         "release 1 0 +2",
                                         "bury 1 -5",
                                         "reserve-with-timeout -1",
                                         "reserve-with-timeout +1",
                                         "pause-tube foo -1",
                                         "pause-tube foo +1",
                                     });
}

TEST(Parser, NonDecimalNumbersAreBadFormat) {
  expect_all(ParseStatus::BadFormat, {
                                         "delete 0x10",
                                         "delete 1e3",
                                         "delete 1.5",
                                         "delete abc",
                                         "delete 5x",
                                     });
}

TEST(Parser, MissingArgumentsAreBadFormat) {
  expect_all(ParseStatus::BadFormat, {
                                         "put ",         "put 1",          "put 1 2",
                                         "put 1 2 3",    "peek ",          "reserve-with-timeout ",
                                         "reserve-job ", "delete ",        "release ",
                                         "release 1",    "release 1 2",    "bury ",
                                         "bury 1",       "kick ",          "kick-job ",
                                         "touch ",       "stats-job ",     "stats-tube ",
                                         "use ",         "watch ",         "ignore ",
                                         "pause-tube ",  "pause-tube foo", "pause-tube foo ",
                                     });
}

TEST(Parser, ExtraArgumentsAreBadFormat) {
  expect_all(ParseStatus::BadFormat, {
                                         "peek 1 2",
                                         "reserve-with-timeout 1 2",
                                         "reserve-job 1 2",
                                         "delete 1 2",
                                         "release 1 2 3 4",
                                         "bury 1 2 3",
                                         "kick-job 1 2",
                                         "touch 1 2",
                                         "stats-job 1 2",
                                         "pause-tube foo 1 2",
                                         "use foo bar",
                                         "watch foo bar",
                                         "ignore foo bar",
                                         "stats-tube foo bar",
                                     });
}

TEST(Parser, TrailingSpaceAfterLastArgumentIsBadFormat) {
  expect_all(ParseStatus::BadFormat, {
                                         "peek 1 ",
                                         "reserve-with-timeout 1 ",
                                         "reserve-job 1 ",
                                         "delete 1 ",
                                         "release 1 2 3 ",
                                         "bury 1 2 ",
                                         "kick-job 1 ",
                                         "touch 1 ",
                                         "stats-job 1 ",
                                         "pause-tube foo 1 ",
                                         "use foo ",
                                         "watch foo ",
                                         "ignore foo ",
                                         "stats-tube foo ",
                                     });
}

TEST(Parser, TabInArgumentsIsBadFormat) {
  expect_all(ParseStatus::BadFormat, {
                                         "delete \t5",
                                         "delete 5\t",
                                         "put 1\t2 3 4",
                                         "release 1\t2 3",
                                         "bury 1 \t2",
                                         "use \tfoo",
                                         "use foo\t",
                                         "watch fo\to",
                                         "pause-tube foo\t1",
                                     });
}

TEST(Parser, TabInsteadOfTheSpaceAfterTheCommandNameIsUnknownCommand) {
  // Argument-taking commands are matched by "name " (with the space).
  expect_all(ParseStatus::UnknownCommand, {"delete\t5", "use\tfoo", "put\t1 2 3 4"});
}

// ---------------------------------------------------------------------------
// put's trailing text: parsed, counted, then answered by the server.

TEST(Parser, PutWithTrailingSpaceParsesButFlagsTrailingJunk) {
  Command c = parsed("put 1 2 3 4 ");
  EXPECT_EQ(c.op, Op::Put);
  EXPECT_EQ(c.body_size, 4u);
  EXPECT_TRUE(c.bad_after_count);
}

TEST(Parser, PutWithTrailingTextFlagsTrailingJunk) {
  for (std::string line : {"put 1 2 3 4x", "put 1 2 3 4 5", "put 1 2 3 4\t", "put 1 2 3 4 junk"}) {
    SCOPED_TRACE(line);
    Command c = parsed(line);
    EXPECT_EQ(c.body_size, 4u);
    EXPECT_TRUE(c.bad_after_count);
  }
}

TEST(Parser, PutWithTrailingJunkStillReportsTheSizeForTheJobTooBigCheck) {
  Command c = parsed("put 1 2 3 99999999 junk");
  EXPECT_EQ(c.body_size, 99999999u);
  EXPECT_TRUE(c.bad_after_count);
}

TEST(Parser, PutWithJunkBetweenNumbersIsBadFormat) {
  expect_all(ParseStatus::BadFormat,
             {"put 1x 2 3 4", "put 1 2y 3 4", "put 1 2 3z 4", "put a b c d"});
}

// ---------------------------------------------------------------------------
// reserve-with-timeout: strict 0 .. 2^31-1, as 1.13.

TEST(Parser, ReserveWithTimeoutAcceptsZeroToIntMax) {
  EXPECT_EQ(parsed("reserve-with-timeout 0").count, 0u);
  EXPECT_EQ(parsed("reserve-with-timeout 1").count, 1u);
  EXPECT_EQ(parsed("reserve-with-timeout 2147483647").count, 2147483647u);
}

TEST(Parser, ReserveWithTimeoutAboveIntMaxIsBadFormat) {
  expect_all(ParseStatus::BadFormat, {
                                         "reserve-with-timeout 2147483648",
                                         "reserve-with-timeout 4294967295",
                                         "reserve-with-timeout 4294967296",
                                         "reserve-with-timeout 18446744073709551616",
                                     });
}

// ---------------------------------------------------------------------------
// Tube names.

TEST(Parser, TubeNameOf200BytesIsAccepted) {
  const std::string name = repeat('a', 200);
  for (std::string verb : {"use ", "watch ", "ignore ", "stats-tube "}) {
    std::string line = verb + name;
    SCOPED_TRACE(verb);
    Command c = parsed(line);
    EXPECT_EQ(c.tube.size(), 200u);
    EXPECT_EQ(c.tube, name);
  }
}

TEST(Parser, TubeNameOf201BytesIsBadFormat) {
  const std::string name = repeat('a', 201);
  expect_all(ParseStatus::BadFormat,
             {"use " + name, "watch " + name, "ignore " + name, "stats-tube " + name});
}

TEST(Parser, EveryAllowedNameCharacterIsAccepted) {
  const std::string allowed =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-+/;.$_()";
  for (char ch : allowed) {
    // A leading '-' is refused, so put each character after an 'x' as well
    // as alone (when allowed as a first character).
    std::string inner = std::string("use x") + ch;
    SCOPED_TRACE(inner);
    EXPECT_EQ(parsed(inner).tube, std::string("x") + ch);
    if (ch != '-') {
      std::string alone = std::string("watch ") + ch;
      SCOPED_TRACE(alone);
      EXPECT_EQ(parsed(alone).tube, std::string(1, ch));
    }
  }
}

TEST(Parser, TubeNameWithAllAllowedCharactersIsAccepted) {
  std::string line = "use Az09+/;.$_()-";
  EXPECT_EQ(parsed(line).tube, "Az09+/;.$_()-");
}

TEST(Parser, EveryOtherByteInATubeNameIsBadFormat) {
  const std::string allowed =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-+/;.$_()";
  for (int b = 0; b < 256; ++b) {
    const char ch = static_cast<char>(b);
    if (allowed.find(ch) != std::string::npos) continue;
    std::string line = std::string("use ab") + ch + "cd";
    SCOPED_TRACE("byte " + std::to_string(b));
    EXPECT_EQ(status_of(line), ParseStatus::BadFormat);
  }
}

TEST(Parser, TubeNameStartingWithHyphenIsBadFormat) {
  expect_all(ParseStatus::BadFormat, {"use -foo", "watch -", "ignore -x", "stats-tube -default"});
}

TEST(Parser, TubeNameIsTheWholeRestOfTheLine) {
  // A second space is part of the name, so it is refused.
  expect_all(ParseStatus::BadFormat, {"use  foo", "watch  foo", "use foo bar"});
}

// ---------------------------------------------------------------------------
// pause-tube: optional spaces, a run of name characters, then a number
// ending the line (the reference's read_tube_name + read_duration).

TEST(Parser, PauseTubeSkipsSpacesBeforeNameAndNumber) {
  std::string line = "pause-tube   foo   10";
  Command c = parsed(line);
  EXPECT_EQ(c.tube, "foo");
  EXPECT_EQ(c.delay, 10u);
}

// "pause-tube" is matched without a trailing space, as in the reference
// (1.12: "pause-tubedefault 1" -> PAUSED, "pause-tube" -> BAD_FORMAT,
// "pause-tube\tdefault 1" -> BAD_FORMAT).
TEST(Parser, PauseTubeNeedsNoSpaceBeforeTheName) {
  std::string line = "pause-tubedefault 1";
  Command c = parsed(line);
  EXPECT_EQ(c.op, Op::PauseTube);
  EXPECT_EQ(c.tube, "default");
  EXPECT_EQ(c.delay, 1u);
}

TEST(Parser, BarePauseTubeIsBadFormat) {
  expect_all(ParseStatus::BadFormat, {"pause-tube", "pause-tube\tdefault 1", "pause-tube!x 1"});
}

TEST(Parser, PauseTubeZeroSecondsParses) {
  std::string line = "pause-tube foo 0";
  EXPECT_EQ(parsed(line).delay, 0u);
}

TEST(Parser, PauseTubeNameOf200BytesParses) {
  std::string line = "pause-tube " + repeat('b', 200) + " 5";
  Command c = parsed(line);
  EXPECT_EQ(c.tube.size(), 200u);
  EXPECT_EQ(c.delay, 5u);
}

TEST(Parser, PauseTubeAcceptsEveryNameCharacter) {
  std::string line = "pause-tube Az09+/;.$_()- 5";
  EXPECT_EQ(parsed(line).tube, "Az09+/;.$_()-");
}

// The reference checks the pause-tube name with is_valid_tube() after
// reading it and after counting the command, so an over-long name or one
// starting with '-' is BAD_FORMAT (not NOT_FOUND) yet counts in
// cmd-pause-tube. Debian's 1.12: "pause-tube -foo 5" -> BAD_FORMAT,
// "pause-tube <201 x b> 5" -> BAD_FORMAT, "pause-tube <200 x b> 5" -> NOT_FOUND.
TEST(Parser, PauseTubeNameStartingWithHyphenIsCountedThenBadFormat) {
  EXPECT_TRUE(parsed("pause-tube -foo 5").bad_after_count);
  EXPECT_TRUE(parsed("pause-tube - 5").bad_after_count);
}

TEST(Parser, PauseTubeNameOf201BytesIsCountedThenBadFormat) {
  EXPECT_TRUE(parsed("pause-tube " + repeat('b', 201) + " 5").bad_after_count);
  EXPECT_FALSE(parsed("pause-tube " + repeat('b', 200) + " 5").bad_after_count);
}

TEST(Parser, PauseTubeNameOfDigitsIsAName) {
  std::string line = "pause-tube 123 5";
  Command c = parsed(line);
  EXPECT_EQ(c.tube, "123");
  EXPECT_EQ(c.delay, 5u);
}

TEST(Parser, PauseTubeNameEndsAtTheFirstNonNameCharacter) {
  expect_all(ParseStatus::BadFormat, {
                                         "pause-tube foo! 10",
                                         "pause-tube foo#bar 10",
                                         "pause-tube 5",        // "5" is the name; no number
                                         "pause-tube foo10",    // all name
                                         "pause-tube !foo 10",  // no name characters
                                         "pause-tube  ",
                                     });
}

// ---------------------------------------------------------------------------
// Commands without arguments: exact match, trailing text is BAD_FORMAT.

TEST(Parser, CommandsWithoutArgumentsFollowedByTextAreBadFormat) {
  expect_all(ParseStatus::BadFormat, {
                                         "stats x",
                                         "stats ",
                                         "statsx",
                                         "reserve ",
                                         "reserve x",
                                         "reservex",
                                         "peek-ready ",
                                         "peek-readyx",
                                         "peek-delayed x",
                                         "peek-buried x",
                                         "list-tubes x",
                                         "list-tubesx",
                                         "list-tube-used x",
                                         "list-tubes-watched x",
                                         "list-tubes-watchedx",
                                     });
}

TEST(Parser, ArgumentCommandNamesWithoutTheirSpaceFallToAShorterPrefix) {
  // "reserve" and "stats" are tried as prefixes after the longer names, so
  // these match them and their trailing text makes them BAD_FORMAT.
  expect_all(ParseStatus::BadFormat, {
                                         "reserve-with-timeout",
                                         "reserve-job",
                                         "reserve-job5",
                                         "stats-job",
                                         "stats-tube",
                                         "stats-job5",
                                     });
}

TEST(Parser, QuitIsMatchedAsAPrefix) {
  EXPECT_EQ(parsed("quitxyz").op, Op::Quit);
  EXPECT_EQ(parsed("quit ").op, Op::Quit);
  EXPECT_EQ(parsed("quit now").op, Op::Quit);
}

// ---------------------------------------------------------------------------
// UNKNOWN_COMMAND.

TEST(Parser, EmptyLineIsUnknownCommand) {
  EXPECT_EQ(status_of(""), ParseStatus::UnknownCommand);
}

TEST(Parser, ArgumentCommandsWithoutTheirSpaceAreUnknownCommand) {
  expect_all(ParseStatus::UnknownCommand, {
                                              "put",
                                              "peek",
                                              "delete",
                                              "release",
                                              "bury",
                                              "kick",
                                              "kick-job",
                                              "touch",
                                              "use",
                                              "watch",
                                              "ignore",
                                              "put1 2 3 4",
                                              "delete5",
                                          });
}

TEST(Parser, CommandNamesAreCaseSensitive) {
  expect_all(ParseStatus::UnknownCommand, {
                                              "PUT 1 2 3 4",
                                              "Put 1 2 3 4",
                                              "RESERVE",
                                              "Reserve",
                                              "STATS",
                                              "DELETE 1",
                                              "QUIT",
                                              "Quit",
                                              "USE foo",
                                              "List-tubes",
                                          });
}

TEST(Parser, UnrecognisedWordsAreUnknownCommand) {
  expect_all(ParseStatus::UnknownCommand, {
                                              "foo",
                                              "hello world",
                                              " stats",
                                              " reserve",
                                              "\treserve",
                                              "list",
                                              "list-tube",
                                              "pause",
                                              "qui",
                                              "stat",
                                              "reserv",
                                          });
}

// ---------------------------------------------------------------------------
// NUL bytes.

TEST(Parser, NulInsideALineIsBadFormat) {
  using namespace std::string_literals;
  expect_all(ParseStatus::BadFormat, {
                                         "stats\0"s,
                                         "delete 5\0"s,
                                         "delete \0"s
                                         "5",
                                         "use foo\0"s
                                         "bar",
                                         "put 1 2 3 4\0"s,
                                         "\0"s,
                                         "\0stats"s,
                                         "quit\0"s,
                                         "foo\0"s,
                                     });
}

}  // namespace
}  // namespace beanstalkd::protocol
