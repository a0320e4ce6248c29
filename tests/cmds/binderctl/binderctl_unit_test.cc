// binderctl's pure helpers: the `service`-style hex dump, --reply specs, transaction codes, and
// the usage errors that exit before any Binder I/O.
#include <gtest/gtest.h>

#include <sstream>

#include "cmds/binderctl/binderctl.h"

namespace nb::binderctl {
namespace {

TEST(HexDump, EmptyIsNull) { EXPECT_EQ(hexDump({}), "NULL"); }

TEST(HexDump, ShortParcelOnOneLine) {
  const uint8_t data[] = {0, 0, 0, 0, 1, 0, 0, 0, 'a', 0, 'b', 0};
  EXPECT_EQ(hexDump(data), "00000000 00000001 00620061 '........a.b.'");
}

TEST(HexDump, LongParcelInOffsetLines) {
  std::vector<uint8_t> data(20, 0);
  data[16] = 'h';
  data[17] = 'i';
  EXPECT_EQ(hexDump(data),
            "\n  0x00000000: 00000000 00000000 00000000 00000000 '................'"
            "\n  0x00000010: 00006968                            'hi..            '");
}

TEST(ReplySpec, ParsesAllTypes) {
  auto spec = parseReplySpec("i32,i64,f,d,bool,s16,s8,binder,fd");
  ASSERT_TRUE(spec.ok());
  ASSERT_EQ(spec->size(), 9u);
  EXPECT_EQ((*spec)[0], ValueType::kI32);
  EXPECT_EQ((*spec)[8], ValueType::kFd);
  EXPECT_FALSE(parseReplySpec("i32,i33").ok());
  EXPECT_FALSE(parseReplySpec("").ok());
}

TEST(Code, NumbersAndSystemCodes) {
  EXPECT_EQ(*parseCode("1"), 1u);
  EXPECT_EQ(*parseCode("0x10"), 16u);
  EXPECT_EQ(*parseCode("_PNG"), 0x5f504e47u);
  EXPECT_FALSE(parseCode("abc").ok());
  EXPECT_FALSE(parseCode("-1").ok());
  EXPECT_FALSE(parseCode("4294967296").ok());
}

int runArgs(std::vector<std::string> args, std::string* err) {
  std::ostringstream out;
  std::ostringstream errs;
  int rc = run(std::move(args), out, errs);
  *err = errs.str();
  return rc;
}

TEST(Usage, BadCommandLinesExit10) {
  std::string err;
  EXPECT_EQ(runArgs({}, &err), kExitUsage);
  EXPECT_EQ(runArgs({"frobnicate"}, &err), kExitUsage);
  EXPECT_NE(err.find("unknown command 'frobnicate'"), std::string::npos) << err;
  EXPECT_EQ(runArgs({"check"}, &err), kExitUsage);
  EXPECT_EQ(runArgs({"call", "echo", "notacode"}, &err), kExitUsage);
  EXPECT_EQ(runArgs({"--reply", "i33", "call", "echo", "1"}, &err), kExitUsage);
  EXPECT_EQ(runArgs({"--sm-layout", "99", "list"}, &err), kExitUsage);
  EXPECT_EQ(runArgs({"--bogus", "list"}, &err), kExitUsage);
}

TEST(Usage, HelpExits0) {
  std::ostringstream out;
  std::ostringstream err;
  EXPECT_EQ(run({"--help"}, out, err), kExitOk);
  EXPECT_NE(out.str().find("usage: binderctl"), std::string::npos);
}

}  // namespace
}  // namespace nb::binderctl
