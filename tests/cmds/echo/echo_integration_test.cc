// The echo example end to end: echo_client (all methods: nested callback, one-way order, fd,
// service-specific exception) against echo_service on binderd.
#include <gtest/gtest.h>

#include "tests/cmds/binderctl/cmd_harness.h"

namespace nb::cmds::testing {
namespace {

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

TEST(EchoExample, ClientPassesEveryCheck) {
  Daemons d;
  ASSERT_EQ(d.start(/*context_manager=*/true, /*echo=*/true), "");
  RunResult r = runCommand({echoClientPath()});
  ASSERT_EQ(r.rc, 0) << describe(r);
  EXPECT_TRUE(contains(r.out, "echo: ok (\"hello\")")) << describe(r);
  EXPECT_TRUE(
      contains(r.out, "callBack: ok (\"cb:ping\", callback calls 1, on the calling thread)"))
      << describe(r);
  EXPECT_TRUE(contains(r.out, "callBack(null): ok")) << describe(r);
  EXPECT_TRUE(contains(r.out, "record (oneway): ok (100 sent, 100 recorded in order)"))
      << describe(r);
  EXPECT_TRUE(contains(r.out, "readFd: ok (23 bytes)")) << describe(r);
  EXPECT_TRUE(contains(r.out, "fail (service-specific): ok")) << describe(r);
  EXPECT_TRUE(contains(r.out, "echo_client: all checks passed")) << describe(r);
  // A second run sees the first run's records and still checks its own in order.
  RunResult again = runCommand({echoClientPath(), "--oneway-count", "20"});
  EXPECT_EQ(again.rc, 0) << describe(again);
  EXPECT_TRUE(contains(again.out, "getRecorded: ok (100 recorded)")) << describe(again);
}

TEST(EchoExample, ClientWithoutServiceExits20) {
  Daemons d;
  ASSERT_EQ(d.start(/*context_manager=*/true, /*echo=*/false), "");
  RunResult r = runCommand({echoClientPath(), "--timeout-ms", "300"});
  EXPECT_EQ(r.rc, 20) << describe(r);
  EXPECT_TRUE(contains(r.err, "echo_client: service echo not found")) << describe(r);
}

TEST(EchoExample, BadArgumentExits10) {
  RunResult r = runCommand({echoClientPath(), "--oneway-count", "many"});
  EXPECT_EQ(r.rc, 10) << describe(r);
}

}  // namespace
}  // namespace nb::cmds::testing
