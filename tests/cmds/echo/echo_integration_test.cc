// The echo example end to end: echo_client (all methods: nested callback, one-way order, fd,
// service-specific exception, lookup) against echo_service on binderd; lookup (code 7) through
// binderctl.
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
  EXPECT_TRUE(contains(r.out, "lookup: ok (\"via lookup\")")) << describe(r);
  EXPECT_TRUE(contains(r.out, "lookup(absent): ok (null)")) << describe(r);
  EXPECT_TRUE(contains(r.out, "echo_client: all checks passed")) << describe(r);
  // A second run sees the first run's records and still checks its own in order.
  RunResult again = runCommand({echoClientPath(), "--oneway-count", "20"});
  EXPECT_EQ(again.rc, 0) << describe(again);
  EXPECT_TRUE(contains(again.out, "getRecorded: ok (100 recorded)")) << describe(again);
}

// Code 7, lookup(String): the service's own service manager answers; the binder comes back as a
// handle in the caller (binderctl decodes it and asks its descriptor), an absent name as null.
TEST(EchoExample, LookupReturnsTheRegisteredBinderOrNull) {
  Daemons d;
  ASSERT_EQ(d.start(/*context_manager=*/true, /*echo=*/true), "");
  RunResult found =
      runCommand({binderctlPath(), "call", "echo", "7", "s16", "echo", "--reply", "binder"});
  ASSERT_EQ(found.rc, 0) << describe(found);
  EXPECT_TRUE(contains(found.out, "Status: ok")) << describe(found);
  EXPECT_TRUE(contains(found.out, "[0] binder: handle ")) << describe(found);
  EXPECT_TRUE(contains(found.out, "[netbinder.example.IEcho]")) << describe(found);
  RunResult absent =
      runCommand({binderctlPath(), "call", "echo", "7", "s16", "no.such", "--reply", "binder"});
  ASSERT_EQ(absent.rc, 0) << describe(absent);
  EXPECT_TRUE(contains(absent.out, "[0] binder: null")) << describe(absent);
  // A missing argument is an AIDL exception, not a crash.
  RunResult bad = runCommand({binderctlPath(), "call", "echo", "7"});
  EXPECT_EQ(bad.rc, 1) << describe(bad);
  EXPECT_TRUE(contains(bad.err, "bad argument")) << describe(bad);
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
