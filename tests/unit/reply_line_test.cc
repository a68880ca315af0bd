#include "beanstalkd/protocol/reply_line.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>

namespace beanstalkd::protocol {
namespace {

TEST(ReplyLine, WordAndOneNumber) {
  EXPECT_EQ(ReplyLine("INSERTED").number(7).finish(), "INSERTED 7\r\n");
  EXPECT_EQ(ReplyLine("KICKED").number(0).finish(), "KICKED 0\r\n");
}

TEST(ReplyLine, WordAndTwoNumbers) {
  EXPECT_EQ(ReplyLine("RESERVED").number(123456789).number(100).finish(),
            "RESERVED 123456789 100\r\n");
}

TEST(ReplyLine, TheLongestLineFits) {
  constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();
  const std::string word(ReplyLine::kMaxWord, 'W');
  EXPECT_EQ(ReplyLine(word).number(kMax).number(kMax).finish(),
            word + " 18446744073709551615 18446744073709551615\r\n");
}

TEST(ReplyLine, AWordAlone) {
  EXPECT_EQ(ReplyLine("OK").finish(), "OK\r\n");
}

}  // namespace
}  // namespace beanstalkd::protocol
