// Differential tests: each scripted byte sequence below is sent to the server
// under test and to the reference, and the complete reply streams must be
// equal (differential_runner.h says how scripts run and what is masked).
//
// Adding a case is one line in kCases.
//
// The project's deliberate differences from the reference are not here: they
// are asserted in server_test.cc (Deliberate*).
#include <gtest/gtest.h>
#include <signal.h>

#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "differential_runner.h"

namespace bbt {
namespace {

using namespace std::string_literals;

std::string put(std::string_view body, std::string_view head = "0 0 10") {
  return "put " + std::string(head) + " " + std::to_string(body.size()) + "\r\n" +
         std::string(body) + "\r\n";
}

const std::string kAllBytes = [] {
  std::string s;
  for (int i = 0; i < 256; ++i) s.push_back(static_cast<char>(i));
  return s;
}();

const std::string kN200(200, 'n');
const Step WAKE = S("list-tube-used\r\n");
const std::string kN201(201, 'n');

// clang-format off
const std::vector<Case> kCases = {
  // ---- connection-level basics
  {"StatsOnFreshServer", {S("stats\r\n")}},
  {"StatsTwice", {S("stats\r\nstats\r\n")}},
  {"ListCommandsOnFreshServer", {S("list-tubes\r\nlist-tube-used\r\nlist-tubes-watched\r\n")}},
  {"StatsTubeDefault", {S("stats-tube default\r\n")}},
  {"StatsTubeMissing", {S("stats-tube nosuch\r\n")}},
  {"EmptyLine", {S("\r\n\r\nlist-tube-used\r\n")}},
  {"UnknownCommand", {S("frobnicate\r\nlist-tube-used\r\n")}},
  {"CommandNamesAreCaseSensitive", {S("STATS\r\nPut 0 0 1 1\r\na\r\nList-tubes\r\nUSE foo\r\n")}},
  {"LeadingSpace", {S(" stats\r\n list-tubes\r\n")}},
  {"Quit", {S("quit\r\nstats\r\n")}},
  {"QuitWithJunkClosesToo", {S("quitxyz\r\nstats\r\n")}},
  {"QuitWithSpace", {S("quit \r\nstats\r\n")}},
  {"QuitPrefixesAreUnknown", {S("q\r\nqu\r\nqui\r\nlist-tube-used\r\n")}},
  {"NulInLine", {S("sta\0ts\r\nuse a\0b\r\n\0\r\nlist-tube-used\r\n"s)}},
  {"HighBytesInLine", {S("\xff\xfe\r\nuse \xc3\xa9\r\nlist-tube-used\r\n")}},
  {"BareLfDoesNotEndLine", {S("list-tube-used\nlist-tube-used\r\nlist-tube-used\r\n")}},
  {"TabAfterCommand", {S("reserve\t\r\nstats\t\r\nlist-tubes\t\r\n")}},
  {"NoArgCommandsWithJunk", {S("reservex\r\nstatsx\r\nstats-tubex\r\nstats-jobx\r\nlist-tubesx\r\n"
                               "list-tube-usedx\r\nlist-tubes-watchedx\r\npeek-readyx\r\n"
                               "peek-delayedx\r\npeek-buriedx\r\npause-tubex\r\nreserve-jobx\r\n")}},
  {"ArgCommandsWithJunkName", {S("kick-jobx\r\ndeletex 1\r\nusex\r\nputx\r\ntouchx\r\nburyx\r\n"
                                 "releasex\r\nwatchx\r\nignorex\r\nkickx\r\npeekx\r\n")}},
  {"NoArgCommandsTrailingSpace", {S("stats \r\nreserve \r\nlist-tubes \r\nlist-tube-used \r\n"
                                    "list-tubes-watched \r\npeek-ready \r\npeek-delayed \r\n"
                                    "peek-buried \r\n")}},
  {"ArgCommandsWithoutArgs", {S("put\r\ndelete\r\nuse\r\npeek\r\nkick\r\nkick-job\r\ntouch\r\n"
                                "bury\r\nrelease\r\nwatch\r\nignore\r\n")}},
  {"ArgCommandsWithoutArgsBadFormat", {S("stats-job\r\nstats-tube\r\npause-tube\r\nreserve-job\r\n"
                                         "reserve-with-timeout\r\n")}},
  {"ArgCommandsEmptyArg", {S("put \r\ndelete \r\nuse \r\npeek \r\nkick \r\nkick-job \r\ntouch \r\n"
                             "bury \r\nrelease \r\nwatch \r\nignore \r\nstats-job \r\nstats-tube \r\n"
                             "pause-tube \r\nreserve-job \r\n")}},
  {"PartialCommandNames", {S("stat\r\nres\r\nlist\r\nlist-tube\r\nlist-tubes-watche\r\npeek-\r\n")}},

  // ---- line length
  {"Line224Bytes", {S(std::string(222, 'x') + "\r\nlist-tube-used\r\n")}},
  {"Line226Bytes", {S(std::string(224, 'x') + "\r\nlist-tube-used\r\n")}},
  {"Line300Bytes", {S("use " + std::string(296, 'a') + "\r\nlist-tube-used\r\n")}},
  {"Line10000Bytes", {S(std::string(10000, 'x') + "\r\nlist-tube-used\r\n")}},
  {"Line10000BytesThenPut", {S(std::string(10000, 'x') + "\r\n" + put("ok") + "peek 1\r\n")}},
  {"Line10000BytesBareLf", {S(std::string(10000, 'x') + "\nlist-tube-used\r\n")}},
  {"LongLineInPieces", {S(std::string(150, 'x')), Sleep(20), S(std::string(150, 'x')), Sleep(20),
                        S("\r\nlist-tube-used\r\n")}},
  {"UseName200InLongLine", {S("use " + kN200 + "\r\nlist-tube-used\r\n")}},

  // ---- put
  {"PutReserveDelete", {S(put("hello") + "reserve\r\ndelete 1\r\ndelete 1\r\nstats-job 1\r\n")}},
  {"PutPeekStatsJob", {S(put("abc", "7 0 20") + "peek 1\r\nstats-job 1\r\n")}},
  {"PutTtrZero", {S(put("a", "1 0 0") + "stats-job 1\r\n")}},
  {"PutMaxNumbers", {S(put("a", "4294967295 0 4294967295") + "stats-job 1\r\n")}},
  {"PutDelayed", {S(put("a", "5 100 10") + "stats-job 1\r\npeek-delayed\r\npeek-ready\r\n"
                    "reserve-with-timeout 0\r\n")}},
  {"PutEmptyBody", {S("put 0 0 1 0\r\n\r\npeek 1\r\nreserve\r\n")}},
  {"PutBinaryBody", {S(put("a\0b\r\nc\rd\ne\r\n\r\n"s) + "peek 1\r\nreserve\r\n")}},
  {"PutAllByteValues", {S(put(kAllBytes) + "peek 1\r\n")}},
  {"PutBodyLooksLikeCommand", {S(put("put 0 0 1 1\r\nx\r\n") + "peek 1\r\nstats\r\n")}},
  {"PutMaxSize", {S(put(std::string(65535, 'm')) + "peek-ready\r\n")}},
  {"PutTooBigThenCommand", {S(put(std::string(65536, 'm')) + "list-tube-used\r\nstats\r\n")}},
  {"PutTooBigDeclaredOnly", {S("put 0 0 10 65536\r\n"), Sleep(50), S("list-tube-used\r\n")}},
  {"PutTooBigWithZFlag", {S(put("abcdef") + put("abcde") + "stats\r\n")}, {"-z", "5"}},
  {"PutZFlagZero", {S(put("") + put("a") + "stats\r\n")}, {"-z", "0"}},
  {"PutZFlagClamped", {S("stats\r\n")}, {"-z", "2000000000"}},
  {"PutBodyTooLong", {S("put 0 0 10 3\r\nabcXYlist-tube-used\r\n" + put("z") + "peek 2\r\npeek 3\r\n")}},
  {"PutBodyTooLongByOne", {S("put 0 0 10 3\r\nabcd\r\nlist-tube-used\r\n")}},
  {"PutBodyTooShort", {S("put 0 0 10 5\r\nab\r\nlist-tube-used\r\nlist-tube-used\r\n")}},
  {"PutBodyCrWithoutLf", {S("put 0 0 10 1\r\na\rxlist-tube-used\r\n")}},
  {"PutSplitAcrossWrites", {S("put 0 0 10 5\r"), Sleep(20), S("\nhel"), Sleep(20), S("lo\r"),
                            Sleep(20), S("\npeek 1\r\n")}},
  {"PutOneByteAtATime", [] {
     std::vector<Step> steps;
     for (const char ch : put("hi there") + "peek 1\r\n") steps.push_back(S(std::string(1, ch)));
     return steps;
   }()},
  {"PutLeadingZeros", {S("put 0001 0000 0010 0003\r\nabc\r\nstats-job 1\r\n")}},
  {"PutDoubleSpaces", {S("put 0  0 10 1\r\na\r\nput  0 0 10 1\r\nb\r\nput 0 0 10  1\r\nc\r\n")}},
  {"PutTrailingSpace", {S("put 0 0 10 1 \r\na\r\n")}},
  {"PutTab", {S("put 0\t0 10 1\r\na\r\n")}},
  {"PutSigns", {S("put -1 0 10 1\r\na\r\nput +1 0 10 1\r\na\r\nput 0 -0 10 1\r\na\r\n")}},
  {"PutHex", {S("put 0x1 0 10 1\r\na\r\n")}},
  {"PutTooFewArgs", {S("put 0 0 10\r\nput 0 0\r\nput 0\r\n")}},
  {"PutTooManyArgs", {S("put 0 0 10 1 1\r\na\r\n")}},
  {"PutJunkAfterBytes", {S("put 0 0 10 1x\r\na\r\n")}},
  {"PutPriOverflow", {S("put 4294967296 0 10 1\r\na\r\nput 18446744073709551616 0 10 1\r\na\r\n")}},
  {"PutDelayOverflow", {S("put 0 4294967296 10 1\r\na\r\n")}},
  {"PutTtrOverflow", {S("put 0 0 4294967296 1\r\na\r\n")}},
  {"PutBytesOverflow", {S("put 0 0 10 4294967296\r\na\r\nput 0 0 10 18446744073709551616\r\na\r\n")}},
  {"PutBytesMaxU32", {S("put 0 0 10 4294967295\r\n"), Sleep(50), S("list-tube-used\r\n")}},
  {"PutIdsSkipAfterExpectedCrlf", {S("put 0 0 10 1\r\nab\r\n" + put("x") + "peek 1\r\npeek 2\r\n")}},

  // ---- scheduling
  {"PriorityOrder", {S(put("p5", "5 0 10") + put("p1", "1 0 10") + put("p3", "3 0 10") +
                       put("p1b", "1 0 10") + put("pmax", "4294967295 0 10") + put("p0", "0 0 10") +
                       "reserve\r\nreserve\r\nreserve\r\nreserve\r\nreserve\r\nreserve\r\n"
                       "reserve-with-timeout 0\r\n")}},
  {"UrgentCounting", {S(put("a", "1023 0 10") + put("b", "1024 0 10") + "stats-tube default\r\n"
                        "stats\r\n")}},
  {"PeekReadyFollowsPriority", {S(put("a", "9 0 10") + put("b", "2 0 10") + "peek-ready\r\n")}},
  {"PeekDelayedSoonest", {S(put("a", "0 300 10") + put("b", "0 100 10") + put("c", "0 200 10") +
                            "peek-delayed\r\n")}},
  {"ReleasedKeepsId", {S(put("a", "10 0 10") + put("b", "10 0 10") + "reserve\r\n" +
                         put("c", "10 0 10") + "release 1 10 0\r\nreserve\r\nreserve\r\nreserve\r\n")}},
  {"ReleaseNewPriority", {S(put("a", "100 0 10") + put("b", "50 0 10") + "reserve\r\n"
                            "release 2 200 0\r\nstats-job 2\r\nreserve\r\n")}},
  {"ReleaseWithDelay", {S(put("a") + "reserve\r\nrelease 1 0 100\r\nstats-job 1\r\npeek-delayed\r\n"
                          "reserve-with-timeout 0\r\nstats\r\n")}},
  {"ReleaseNotReserved", {S(put("a") + "release 1 0 0\r\nrelease 2 0 0\r\n")}},
  {"ReleaseByOtherConnection", {S(put("a")), Sync(0, 1), S(1, "reserve\r\n"), Sync(1, 2),
                                S("release 1 0 0\r\ndelete 1\r\nbury 1 0\r\ntouch 1\r\n")}},
  {"ReleaseArgs", {S("release 1 0\r\nrelease 1 0 0 0\r\nrelease x 0 0\r\nrelease 1 x 0\r\n"
                     "release 1 0 x\r\nrelease 1 4294967296 0\r\nrelease 1 0 4294967296\r\n"
                     "release 18446744073709551616 0 0\r\nrelease 1 0 0 \r\nrelease 1  0 0\r\n")}},

  // ---- reserve
  {"ReserveWithTimeoutZero", {S("reserve-with-timeout 0\r\n" + put("a") + "reserve-with-timeout 0\r\n")}},
  {"ReserveWithTimeoutLeadingZeros", {S(put("a") + "reserve-with-timeout 00\r\n")}},
  {"ReserveWithTimeoutOverflow64", {S("reserve-with-timeout 18446744073709551616\r\nlist-tube-used\r\n")}},
  {"ReserveWithTimeoutOne", {S("reserve-with-timeout 1\r\n"), Sync(0, 1), S("list-tube-used\r\n")}},
  {"ReserveWithTimeoutWokenByPut", {S("reserve-with-timeout 2\r\n"), Sleep(100), S(1, put("x")),
                                    Sync(0, 2)}},
  {"ReserveWokenByPutFromOther", {S("reserve\r\n"), Sleep(100), S(1, put("x")), Sync(0, 2),
                                  S("stats\r\n")}},
  {"ReserveWaitersFifo", {S("reserve\r\n"), Sleep(100), S(1, "reserve\r\n"), Sleep(100),
                          S(2, "stats\r\n" + put("first")), Sync(0, 2), S(2, put("second")), Sync(1, 2)}},
  {"ReserveHalfCloseWhileWaiting", {S("reserve\r\n")}},
  // A half-close ends the waiting reserve with TIMED_OUT; whatever the
  // client sent behind it still runs, and each later reserve answers at once
  // (a job if one is ready, else TIMED_OUT) instead of waiting.
  {"ReserveHalfCloseRunsWhatFollows", {S("reserve\r\n" + put("x") + "list-tube-used\r\n"
                                         "stats-tube default\r\n")}},
  {"ReserveHalfCloseLaterReservesAnswerAtOnce", {S("reserve\r\n"), Sleep(100),
                                                 S(put("x") + "reserve\r\nreserve\r\n"
                                                   "reserve-with-timeout 5\r\nuse other\r\n" +
                                                   put("y") + "reserve\r\nstats\r\n")}},
  {"ReserveHalfCloseCommandsSplitAcrossPackets", {S("reserve\r\npu"), Sleep(50), S("t 0 0 10 1\r\nx"),
                                                  Sleep(50), S("\r\nlist-tube-used\r\n")}},
  {"ReserveHalfCloseDropsAnIncompleteCommand", {S("reserve\r\nlist-tube-used\r\nput 0 0 10 5\r\nab")}},
  {"ReserveHalfCloseThenQuit", {S("reserve\r\nquit\r\nlist-tube-used\r\n")}},
  {"ReserveAcrossWatchedTubes", {S("use a\r\n" + put("a5", "5 0 10") + "use b\r\n" + put("b3", "3 0 10") +
                                   "use c\r\n" + put("c1", "1 0 10") + "watch a\r\nwatch b\r\n"
                                   "reserve\r\nreserve\r\nreserve-with-timeout 0\r\n")}},
  {"ReserveIgnoresPausedTube", {S(put("a") + "pause-tube default 100\r\nreserve-with-timeout 0\r\n"
                                  "peek-ready\r\npause-tube default 0\r\nreserve-with-timeout 0\r\n")}},
  {"DeadlineSoonImmediately", {S(put("a", "0 0 1") + "reserve\r\nreserve\r\nreserve-with-timeout 0\r\n"
                                 "stats-job 1\r\n")}},
  // A job ready only in a paused tube does not spare a holder in its last
  // second DEADLINE_SOON, with a timeout of 0 as with none.
  {"DeadlineSoonWhenOnlyPausedJobsAreReady",
   {S(put("a", "0 0 1") + put("b") + "reserve\r\npause-tube default 100\r\n" +
      "reserve-with-timeout 0\r\n")}},
  {"DeadlineSoonNotWithTtr2", {S(put("a", "0 0 2") + "reserve\r\nreserve-with-timeout 0\r\n")}},
  {"DeadlineSoonWhenReadyJobExists", {S(put("a", "0 0 1") + "reserve\r\n" + put("b") + "reserve\r\n")}},
  // The reference notices timers lazily, on its next event: a throw-away
  // command (WAKE) after the sleep makes the following answers deterministic.
  {"TtrExpires", {S(put("a", "0 0 1") + "reserve\r\n"), Sleep(1200), WAKE, Sync(0, 1), Sleep(50),
                  S("stats-job 1\r\nstats\r\nreserve-with-timeout 0\r\n")}},
  {"DelayedJobBecomesReady", {S(put("a", "0 1 10") + "peek-ready\r\n"), Sleep(1200), WAKE, Sync(0, 1),
                              Sleep(50), S("peek-ready\r\nstats-job 1\r\n")}},
  {"PauseExpires", {S(put("a") + "pause-tube default 1\r\nreserve-with-timeout 0\r\n"), Sleep(1200),
                    WAKE, Sync(0, 1), Sleep(50), S("reserve-with-timeout 0\r\nstats-tube default\r\n")}},
  {"QuitReleasesReservedJob", {S(1, put("a") + "reserve\r\nquit\r\n"), Sync(1, 2), Sleep(100),
                               S("stats-job 1\r\nstats\r\n")}},

  {"SamePriorityAcrossTubesById", {S("use b\r\n" + put("b1", "5 0 10") + "use a\r\n" + put("a2", "5 0 10") +
                                     "watch a\r\nwatch b\r\nreserve\r\nreserve\r\n")}},
  {"SameDelayPeekAndKickById", {S(put("x", "0 100 10") + put("y", "0 100 10") + "peek-delayed\r\n"
                                  "kick 1\r\nstats-job 1\r\nstats-job 2\r\n")}},
  {"KickedBuriedJobsKeepPriorityOrder", {S(put("lo", "9 0 10") + put("hi", "1 0 10") + "reserve\r\n"
                                           "bury 2 1\r\nreserve\r\nbury 1 9\r\nkick 2\r\nreserve\r\n"
                                           "reserve\r\n")}},
  {"ReleaseDelayedThenKick", {S(put("a") + "reserve\r\nrelease 1 3 100\r\nkick 1\r\nstats-job 1\r\n"
                                "peek-ready\r\n")}},
  {"WaiterOnOtherTube", {S("watch b\r\nignore default\r\nreserve\r\n"), Sync(0, 2), Sleep(100),
                         S(1, put("to-default") + "use b\r\n" + put("to-b")), Sync(0, 2)}},
  {"WaiterWatchingTwoTubes", {S("watch b\r\nreserve\r\n"), Sync(0, 1), Sleep(100),
                              S(1, "use b\r\n" + put("to-b")), Sync(0, 2)}},
  {"SecondWaiterTimesOut", {S("reserve-with-timeout 1\r\n"), Sleep(100), S(1, "reserve-with-timeout 1\r\n"),
                            Sleep(100), S(2, put("only")), Sync(0, 2), Sync(1, 1)}},
  {"ClosedWaiterGetsNoJob", {S(1, "reserve\r\n"), Sleep(100), Close(1), Sleep(100),
                             S(put("kept") + "peek-ready\r\nstats\r\n")}},
  // A closing connection lets go of its tubes in the reference's order,
  // which decides the order of list-tubes (a dropped tube's place goes to
  // the last one).
  {"ClosedWatcherDropsTubesInReferenceOrder",
   {R(0, "use t1\r\n"), R(0, "watch t2\r\n"), R(0, "watch t3\r\n"), R(0, "watch t1\r\n"),
    R(0, "watch t4\r\n"), R(1, "use t5\r\n"), R(2, "watch t6\r\n"), R(2, "use t7\r\n"),
    Close(0), Sleep(100), R(1, "list-tubes\r\n")}},
  {"ClosedWatcherThatIgnoredDefaultDropsTubesInReferenceOrder",
   {R(0, "use t1\r\n"), R(0, "watch t2\r\n"), R(0, "watch t3\r\n"), R(0, "watch t4\r\n"),
    R(0, "ignore default\r\n"), R(1, "use t5\r\n"), R(2, "watch t6\r\n"),
    R(2, "use t7\r\n"), Close(0), Sleep(100), R(1, "list-tubes\r\n")}},
  {"ClosedWatcherOfItsUsedTubeDropsTubesInReferenceOrder",
   {R(0, "watch t2\r\n"), R(0, "watch t1\r\n"), R(0, "use t1\r\n"), R(0, "watch t3\r\n"),
    R(0, "watch t4\r\n"), R(1, "use t5\r\n"), R(2, "watch t6\r\n"), R(2, "use t7\r\n"),
    Close(0), Sleep(100), R(1, "list-tubes\r\n")}},
  {"ClosedHolderReleasesJob", {S(put("a")), Sync(0, 1), S(1, "reserve\r\n"), Sync(1, 2), Close(1),
                               Sleep(100), S("stats-job 1\r\npeek-ready\r\n")}},

  // ---- reserve-job
  {"ReserveJobStates", {S(put("ready") + put("delayed", "0 100 10") + "reserve-job 1\r\n"
                          "reserve-job 2\r\nreserve-job 2\r\nbury 2 0\r\nreserve-job 2\r\n"
                          "reserve-job 3\r\nstats\r\n")}},
  {"ReserveJobOtherTubePaused", {S("use hidden\r\n" + put("h") + "pause-tube hidden 100\r\n"
                                   "reserve-job 1\r\nstats-job 1\r\n")}},
  {"ReserveJobReservedByOther", {S(put("a")), Sync(0, 1), S(1, "reserve\r\n"), Sync(1, 2),
                                 S("reserve-job 1\r\n")}},
  {"ReserveJobArgs", {S("reserve-job x\r\nreserve-job -1\r\nreserve-job 18446744073709551616\r\n"
                        "reserve-job 18446744073709551615\r\nreserve-job 1 \r\nreserve-job 0\r\n")}},

  // ---- delete
  {"DeleteStates", {S(put("r") + put("d", "0 100 10") + put("b") + "reserve-job 3\r\nbury 3 0\r\n"
                      "delete 1\r\ndelete 2\r\ndelete 3\r\ndelete 4\r\nstats\r\n")}},
  {"DeleteReservedByOther", {S(put("a")), Sync(0, 1), S(1, "reserve\r\n"), Sync(1, 2),
                             S("delete 1\r\n"), Sync(0, 1), S(1, "delete 1\r\n")}},
  {"DeleteArgs", {S("delete x\r\ndelete -1\r\ndelete +1\r\ndelete 18446744073709551615\r\n"
                    "delete 18446744073709551616\r\ndelete 0\r\ndelete 1 2\r\ndelete 1 \r\n"
                    "delete  1\r\ndelete 00000000000000000000001\r\n")}},

  // ---- bury / kick
  {"BuryAndPeekBuried", {S(put("a", "5 0 10") + "reserve\r\nbury 1 7\r\npeek-buried\r\nstats-job 1\r\n"
                           "reserve-with-timeout 0\r\nstats\r\n")}},
  {"BuryNotReserved", {S(put("a") + "bury 1 0\r\nbury 2 0\r\n")}},
  {"BuryArgs", {S("bury 1\r\nbury 1 0 0\r\nbury x 0\r\nbury 1 x\r\nbury 1 4294967296\r\n"
                  "bury 1 4294967295\r\nbury 1 -1\r\n")}},
  {"KickBuriedFifo", {S(put("a", "3 0 10") + put("b", "2 0 10") + put("c", "1 0 10") +
                        "reserve\r\nbury 3 0\r\nreserve\r\nbury 2 0\r\nreserve\r\nbury 1 0\r\n"
                        "peek-buried\r\nkick 2\r\npeek-buried\r\nkick 0\r\nkick 5\r\nkick 5\r\n")}},
  {"KickPrefersBuried", {S(put("d", "0 100 10") + put("b") + "reserve\r\nbury 2 0\r\nkick 10\r\n"
                           "stats-job 1\r\nkick 10\r\nstats-job 1\r\n")}},
  {"KickDelayedSoonestFirst", {S(put("a", "0 300 10") + put("b", "0 100 10") + put("c", "0 200 10") +
                                 "kick 1\r\nstats-job 2\r\npeek-delayed\r\n")}},
  {"KickOnlyUsedTube", {S("use other\r\n" + put("x", "0 100 10") + "use default\r\nkick 10\r\n"
                          "use other\r\nkick 10\r\n")}},
  {"KickArgs", {S("kick x\r\nkick -1\r\nkick 4294967295\r\nkick 4294967296\r\nkick 1 \r\n"
                  "kick  1\r\nkick 1x\r\nkick 0001\r\nkick 18446744073709551616\r\n")}},
  {"KickJobStates", {S(put("r") + put("d", "0 100 10") + put("b") + put("rs") + "reserve-job 3\r\n"
                       "bury 3 0\r\nreserve-job 4\r\nkick-job 1\r\nkick-job 2\r\nkick-job 3\r\n"
                       "kick-job 3\r\nkick-job 4\r\nkick-job 9\r\nstats\r\n")}},
  {"KickJobArgs", {S("kick-job x\r\nkick-job 1 2\r\nkick-job -1\r\nkick-job 18446744073709551616\r\n"
                     "kick-job 1 \r\n")}},

  // ---- touch
  {"Touch", {S(put("a", "0 0 100") + "touch 1\r\nreserve\r\ntouch 1\r\ntouch 2\r\nstats\r\n")}},
  {"TouchArgs", {S("touch x\r\ntouch 1 2\r\ntouch -1\r\ntouch 18446744073709551616\r\ntouch 1 \r\n")}},

  // ---- peek
  {"PeekNothing", {S("peek 1\r\npeek-ready\r\npeek-delayed\r\npeek-buried\r\n")}},
  {"PeekUsedTubeOnly", {S(put("a") + "use empty\r\npeek-ready\r\npeek 1\r\n")}},
  {"PeekArgs", {S("peek x\r\npeek -1\r\npeek 18446744073709551616\r\npeek 18446744073709551615\r\n"
                  "peek 1 \r\npeek 1 2\r\npeek 0\r\n")}},

  // ---- stats-job / stats
  {"StatsJobArgs", {S("stats-job x\r\nstats-job -1\r\nstats-job 18446744073709551616\r\n"
                      "stats-job 1 \r\nstats-job 0\r\n")}},
  {"StatsJobReserved", {S(put("a", "3 0 50") + "reserve\r\nstats-job 1\r\n")}},
  {"StatsAfterEverything", {S(put("a") + put("b", "0 50 10") + "peek 1\r\npeek-ready\r\npeek-delayed\r\n"
                              "peek-buried\r\nreserve\r\nrelease 1 0 0\r\nreserve-with-timeout 0\r\n"
                              "bury 1 0\r\nkick 1\r\ntouch 1\r\nuse x\r\nwatch x\r\nignore x\r\n"
                              "stats-job 1\r\nstats-tube default\r\nlist-tubes\r\nlist-tube-used\r\n"
                              "list-tubes-watched\r\npause-tube default 0\r\ndelete 1\r\nstats\r\n")}},
  {"StatsCountsFailedCommands", {S("delete 9\r\nrelease 9 0 0\r\nbury 9 0\r\ntouch 9\r\npeek 9\r\n"
                                   "stats-job 9\r\nstats-tube nope\r\npause-tube nope 1\r\n"
                                   "kick-job 9\r\nreserve-job 9\r\nstats\r\n")}},
  {"StatsConnectionsAndWorkers", {S(1, put("a")), Sync(1, 1), S(2, "reserve\r\n"), Sync(2, 2),
                                  S(3, "reserve\r\n"), Sleep(100), S("stats\r\n")}},
  {"StatsTubeAfterMoves", {S("use t\r\n" + put("u", "1023 0 10") + put("n", "1024 0 10") +
                             put("d", "0 100 10") + put("r", "0 0 10") + put("b", "5 0 10") +
                             "watch t\r\nignore default\r\nreserve\r\nreserve\r\nbury 5 0\r\n"
                             "delete 4\r\nstats-tube t\r\n")}},
  {"StatsTubeArgs", {S("stats-tube " + kN200 + "\r\nstats-tube " + kN201 + "\r\nstats-tube -a\r\n"
                       "stats-tube a b\r\nstats-tube a \r\n")}},

  // ---- tubes
  {"UseWatchIgnore", {S("use foo\r\nlist-tube-used\r\nwatch foo\r\nwatch foo\r\nwatch bar\r\n"
                        "list-tubes-watched\r\nignore default\r\nignore nothere\r\nignore bar\r\n"
                        "ignore foo\r\nlist-tubes-watched\r\nlist-tubes\r\nstats\r\n")}},
  {"TubesDisappear", {S("use foo\r\nwatch bar\r\nlist-tubes\r\nuse default\r\nignore bar\r\n"
                        "list-tubes\r\nstats-tube foo\r\n")}},
  {"TubeWithJobStays", {S("use keep\r\n" + put("x") + "use default\r\nlist-tubes\r\ndelete 1\r\n"
                          "list-tubes\r\n")}},
  {"TubeName200", {S("use " + kN200 + "\r\nwatch " + kN200 + "\r\nlist-tubes-watched\r\n"
                     "stats-tube " + kN200 + "\r\nignore " + kN200 + "\r\n")}},
  {"TubeName201", {S("use " + kN201 + "\r\nwatch " + kN201 + "\r\nignore " + kN201 + "\r\n"
                     "pause-tube " + kN201 + " 1\r\nlist-tube-used\r\n")}},
  {"TubeNameAllowedChars", {S("use AZaz09-+/;.$_()\r\nwatch AZaz09-+/;.$_()\r\n" + put("x") +
                              "stats-job 1\r\nstats-tube AZaz09-+/;.$_()\r\nlist-tubes\r\n")}},
  {"TubeNameEachChar", {S("use A\r\nuse z\r\nuse 0\r\nuse 9\r\nuse +\r\nuse /\r\nuse ;\r\nuse .\r\n"
                          "use $\r\nuse _\r\nuse (\r\nuse )\r\nuse a-\r\nuse -\r\nuse -a\r\n")}},
  {"TubeNameBadChars", {S("use a*\r\nuse a@b\r\nuse a,b\r\nuse a:b\r\nuse a!\r\nuse a#\r\n"
                          "use a%\r\nuse a\\b\r\nuse a'b\r\nuse a\"b\r\nuse a~\r\nuse a=b\r\n"
                          "use a[b]\r\nuse a{b}\r\nuse a|b\r\nuse a&b\r\nuse a?b\r\nuse a<b>\r\n"
                          "use a^b\r\nuse a`b\r\nlist-tube-used\r\n")}},
  {"TubeNameSpaces", {S("use a b\r\nuse a \r\nuse  a\r\nwatch a b\r\nwatch a \r\nignore a \r\n"
                        "use a\tb\r\nlist-tube-used\r\n")}},
  {"TubeNameLeadingDash", {S("use -a\r\nwatch -a\r\nignore -a\r\nstats-tube -a\r\n"
                             "pause-tube -a 1\r\nlist-tube-used\r\n")}},
  {"IgnoreLastTube", {S("ignore default\r\nwatch a\r\nignore default\r\nignore a\r\n"
                        "list-tubes-watched\r\n")}},

  {"ListTubesOrderAfterRemoval", {S("watch a\r\nwatch b\r\nwatch c\r\nwatch d\r\nignore b\r\n"
                                    "list-tubes\r\nlist-tubes-watched\r\nwatch b\r\nlist-tubes-watched\r\n")}},
  {"TubeCountsWithSeveralConnections", {S("use t\r\nwatch t\r\n"), Sync(0, 2), S(1, "use t\r\n"), Sync(1, 1),
                                        S(2, "watch t\r\nignore default\r\n"), Sync(2, 2),
                                        S("stats-tube t\r\nstats-tube default\r\nstats\r\n")}},
  {"ReleaseOrTouchBuriedJob", {S(put("a") + "reserve\r\nbury 1 0\r\nrelease 1 0 0\r\ntouch 1\r\n"
                                 "bury 1 0\r\nstats-job 1\r\n")}},
  {"TooBigUsesNoId", {S(put(std::string(65536, 'x')) + put("a") + "peek 1\r\n")}},
  {"BadFormatPutUsesNoId", {S("put 0 0 10 1 \r\na\r\n" + put("b") + "peek 1\r\n")}},
  {"DeleteOwnReserved", {S(put("a") + "reserve\r\nstats\r\ndelete 1\r\nstats\r\n")}},

  // ---- pause-tube
  {"PauseTube", {S(put("a") + "pause-tube nosuch 10\r\nstats-tube nosuch\r\npause-tube default 100\r\n"
                   "stats-tube default\r\npause-tube default 0\r\nstats-tube default\r\n"
                   "reserve-with-timeout 0\r\n")}},
  {"PauseTubeArgs", {S("pause-tube default\r\npause-tube default x\r\npause-tube default -1\r\n"
                       "pause-tube default 4294967296\r\npause-tube default 4294967295\r\n"
                       "pause-tube default 1 \r\npause-tube default  1\r\npause-tube default 007\r\n"
                       "stats-tube default\r\n")}},
  {"PauseWakesWaiterOnUnpause", {S("pause-tube default 100\r\n" + put("a") + "reserve\r\n"),
                                 Sleep(100), S(1, "pause-tube default 0\r\n"), Sync(0, 3)}},

  // ---- drain mode
  {"DrainMode", {S(put("before")), Sync(0, 1), Signal(SIGUSR1), Sleep(200),
                 S(put("during") + "list-tube-used\r\nreserve\r\ndelete 1\r\nstats\r\n")}},
  {"DrainModeTooBigStillTooBig", {Signal(SIGUSR1), Sleep(200),
                                  S(put(std::string(65536, 'x')) + "list-tube-used\r\n")}},
  {"DrainModeBadBody", {Signal(SIGUSR1), Sleep(200), S("put 0 0 10 1\r\nabc\r\nlist-tube-used\r\n")}},

  // ---- pipelining, chunking
  {"PipelinedMix", {S(put("a") + put("b", "1 0 10") + "reserve\r\nbury 1 0\r\npeek-buried\r\n"
                      "kick 1\r\nreserve\r\nrelease 2 5 0\r\nstats-job 2\r\nlist-tubes\r\n"
                      "use t\r\n" + put("c") + "peek 3\r\nquit\r\nstats\r\n")}},
  {"PipelinedHundredPuts", {S([] {
     std::string s;
     for (int i = 0; i < 100; ++i) s += put(std::to_string(i), std::to_string(i % 5) + " 0 10");
     return s + "stats\r\npeek-ready\r\n";
   }())}},
  {"CrlfSplitBetweenWrites", {S("list-tube-used\r"), Sleep(30), S("\nlist-tubes\r"), Sleep(30),
                              S("\n")}},
  {"BodyCrlfSplitBetweenWrites", {S("put 0 0 10 2\r\nab\r"), Sleep(30), S("\npeek 1\r\n")}},
  {"CommandAfterTooLongLineInPieces", {S(std::string(300, 'y')), Sleep(30), S("\r"), Sleep(30),
                                       S("\nlist-tube-used\r\n")}},

  // ---- dropped connections
  {"OtherConnectionDropsMidBody", {S(1, "put 0 0 10 20\r\npartial"), Sleep(50), S(put("ok") + "stats\r\n")}},
};
// clang-format on

// ------------------------------------------------------------ the tests

class Differential : public ::testing::TestWithParam<Case> {};

TEST_P(Differential, SameRepliesAsReference) {
  expect_same_replies_as_reference(GetParam());
}

INSTANTIATE_TEST_SUITE_P(Scripts, Differential, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<Case>& param_info) {
                           return param_info.param.name;
                         });

TEST(DifferentialTable, CaseNamesAreUnique) {
  std::set<std::string> names;
  for (const auto& c : kCases) EXPECT_TRUE(names.insert(c.name).second) << c.name;
  EXPECT_GE(kCases.size(), 100u);
}

// The normaliser itself: masking and quote stripping behave as intended.
TEST(DifferentialTable, NormaliserMasksAndUnquotes) {
  auto ok = [](const std::string& body) {
    return "OK " + std::to_string(body.size()) + "\r\n" + body + "\r\n";
  };
  const std::string a = ok("---\npid: 12\nrusage-utime: 0.1\nhostname: \"h\"\nx: 1\n");
  const std::string b = ok("---\npid: 999\nrusage-utime: 0.25\nhostname: g\nx: 1\n");
  const std::string c = ok("---\npid: 999\nrusage-utime: 0.25\nhostname: g\nx: 2\n");
  EXPECT_EQ(normalise_stream(a), normalise_stream(b));
  EXPECT_NE(normalise_stream(b), normalise_stream(c));
  // Quotes are dropped everywhere, masking only applies to server stats.
  EXPECT_EQ(normalise_stream(ok("---\nid: 1\ntube: \"t\"\n")),
            normalise_stream(ok("---\nid: 1\ntube: t\n")));
  EXPECT_NE(normalise_stream(ok("---\nid: 1\n")), normalise_stream(ok("---\nid: 2\n")));
  // A count that does not match the body is visible.
  EXPECT_NE(normalise_stream("OK 9\r\n---\nid: 1\n\r\n"), normalise_stream(ok("---\nid: 1\n")));
  // Job bodies are kept verbatim, even when they look like replies.
  EXPECT_EQ(normalise_stream("FOUND 1 4\r\nOK 1\r\n"), "FOUND 1 4\n    body: \"OK 1\"\n");
}

}  // namespace
}  // namespace bbt
