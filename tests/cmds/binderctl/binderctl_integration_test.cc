// binderctl end to end on binderd: a context manager and echo_service in their own processes,
// binderctl run as a child process; outputs and exit codes asserted.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <thread>

#include "tests/cmds/binderctl/cmd_harness.h"

namespace nb::cmds::testing {
namespace {

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

RunResult ctl(std::vector<std::string> args) {
  args.insert(args.begin(), binderctlPath());
  return runCommand(args);
}

class BinderctlTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    daemons_ = new Daemons();
    setup_error_ = new std::string(daemons_->start(/*context_manager=*/true, /*echo=*/true));
  }
  static void TearDownTestSuite() {
    delete daemons_;
    daemons_ = nullptr;
    delete setup_error_;
    setup_error_ = nullptr;
  }
  void SetUp() override { ASSERT_EQ(*setup_error_, ""); }

  static Daemons* daemons_;
  static std::string* setup_error_;
};
Daemons* BinderctlTest::daemons_ = nullptr;
std::string* BinderctlTest::setup_error_ = nullptr;

TEST_F(BinderctlTest, ListShowsEchoWithDescriptor) {
  RunResult r = ctl({"list"});
  ASSERT_EQ(r.rc, 0) << describe(r);
  EXPECT_TRUE(contains(r.out, "Found 1 services:\n")) << describe(r);
  EXPECT_TRUE(contains(r.out, "0\techo: [netbinder.example.IEcho]\n")) << describe(r);
}

TEST_F(BinderctlTest, Check) {
  RunResult found = ctl({"check", "echo"});
  EXPECT_EQ(found.rc, 0) << describe(found);
  EXPECT_EQ(found.out, "Service echo: found\n");
  RunResult missing = ctl({"check", "no.such.service"});
  EXPECT_EQ(missing.rc, 0) << describe(missing);
  EXPECT_EQ(missing.out, "Service no.such.service: not found\n");
}

TEST_F(BinderctlTest, Ping) {
  RunResult r = ctl({"ping", "echo"});
  ASSERT_EQ(r.rc, 0) << describe(r);
  EXPECT_TRUE(contains(r.out, "Service echo: ping ok, round trip ")) << describe(r);
  EXPECT_TRUE(contains(r.out, " us\n")) << describe(r);
}

TEST_F(BinderctlTest, CallEchoPrintsHexDumpStatusAndTypedReply) {
  RunResult r = ctl({"call", "echo", "1", "s16", "hello", "--reply", "s16"});
  ASSERT_EQ(r.rc, 0) << describe(r);
  // Status EX_NONE, String16 length 5, "hello" + NUL in UTF-16.
  EXPECT_TRUE(contains(r.out,
                       "Result: Parcel(\n  0x00000000: 00000000 00000005 00650068 006c006c "
                       "'........h.e.l.l.'\n  0x00000010: 0000006f"))
      << describe(r);
  EXPECT_TRUE(contains(r.out, "Status: ok\n")) << describe(r);
  EXPECT_TRUE(contains(r.out, "Reply:\n  [0] s16: \"hello\"\n")) << describe(r);
}

TEST_F(BinderctlTest, GlobalReplyOptionAndNonAsciiString) {
  RunResult r = ctl({"--reply", "s16", "call", "echo", "1", "s16", "h\xc3\xa9llo"});
  ASSERT_EQ(r.rc, 0) << describe(r);
  EXPECT_TRUE(contains(r.out, "[0] s16: \"h\xc3\xa9llo\"")) << describe(r);
}

TEST_F(BinderctlTest, OnewayRecordThenGetRecorded) {
  for (const char* v : {"7", "8", "9"}) {
    // --oneway before the command or after CODE.
    RunResult r = v[0] == '8' ? ctl({"call", "echo", "3", "--oneway", "i32", v})
                              : ctl({"--oneway", "call", "echo", "3", "i32", v});
    ASSERT_EQ(r.rc, 0) << describe(r);
    EXPECT_EQ(r.out, "Result: oneway call sent\n");
  }
  RunResult r;
  for (int i = 0; i < 200; ++i) {  // one-ways may still be executing: bounded poll
    r = ctl({"call", "echo", "4", "--reply", "i32,i32,i32,i32"});
    if (r.rc == 0 && contains(r.out, "[0] i32: 3 ")) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_EQ(r.rc, 0) << describe(r);
  EXPECT_TRUE(contains(r.out,
                       "[0] i32: 3 (0x00000003)\n  [1] i32: 7 (0x00000007)\n"
                       "  [2] i32: 8 (0x00000008)\n  [3] i32: 9 (0x00000009)\n"))
      << describe(r);
}

TEST_F(BinderctlTest, CallWithFdArgument) {
  const std::string path = daemons_->dir() + "/fd-input.txt";
  std::ofstream(path) << "fdcontent";
  RunResult r = ctl({"call", "echo", "5", "fd", path, "--reply", "i32"});
  ASSERT_EQ(r.rc, 0) << describe(r);
  EXPECT_TRUE(contains(r.out, "'........fdconten'")) << describe(r);  // byte[] in the hex dump
  EXPECT_TRUE(contains(r.out, "[0] i32: 9 ")) << describe(r);         // its length
  EXPECT_TRUE(contains(r.out, "(12 more bytes)")) << describe(r);
}

TEST_F(BinderctlTest, ServiceSpecificExceptionIsDecodedAndFails) {
  RunResult r = ctl({"call", "echo", "6", "i32", "42", "s16", "boom"});
  EXPECT_EQ(r.rc, 1) << describe(r);
  EXPECT_TRUE(contains(r.out, "Status: exception -8 (EX_SERVICE_SPECIFIC) error 42: \"boom\"\n"))
      << describe(r);
  EXPECT_TRUE(contains(r.err, "binderctl: echo threw exception -8")) << describe(r);
}

TEST_F(BinderctlTest, NullAndBinderArguments) {
  RunResult null_cb = ctl({"call", "echo", "2", "null", "s16", "x"});
  EXPECT_EQ(null_cb.rc, 1) << describe(null_cb);
  EXPECT_TRUE(contains(null_cb.out, "(EX_NULL_POINTER)")) << describe(null_cb);
  // The echo object itself as the callback: it arrives as the service's own local object and
  // rejects the IEchoCallback token, which callBack reports as EX_ILLEGAL_STATE.
  RunResult self = ctl({"call", "echo", "2", "binder", "echo", "s16", "x"});
  EXPECT_EQ(self.rc, 1) << describe(self);
  EXPECT_TRUE(contains(self.out, "(EX_ILLEGAL_STATE)")) << describe(self);
  RunResult missing = ctl({"call", "echo", "2", "binder", "no.such", "s16", "x"});
  EXPECT_EQ(missing.rc, 1) << describe(missing);
  EXPECT_TRUE(contains(missing.err, "binder argument: service no.such not found"))
      << describe(missing);
}

TEST_F(BinderctlTest, SystemCodes) {
  RunResult r = ctl({"call", "echo", "_NTF", "--reply", "s16"});
  ASSERT_EQ(r.rc, 0) << describe(r);
  EXPECT_TRUE(contains(r.out, "Status: none (system transaction)\n")) << describe(r);
  EXPECT_TRUE(contains(r.out, "[0] s16: \"netbinder.example.IEcho\"\n")) << describe(r);
  RunResult ping = ctl({"call", "echo", "_PNG"});
  EXPECT_EQ(ping.rc, 0) << describe(ping);
  EXPECT_TRUE(contains(ping.out, "Result: Parcel(NULL)\n")) << describe(ping);
}

TEST_F(BinderctlTest, Errors) {
  RunResult unknown = ctl({"call", "no.such.service", "1"});
  EXPECT_EQ(unknown.rc, 1) << describe(unknown);
  EXPECT_EQ(unknown.err, "binderctl: service no.such.service not found\n");
  RunResult ping = ctl({"ping", "no.such.service"});
  EXPECT_EQ(ping.rc, 1) << describe(ping);
  RunResult bad_int = ctl({"call", "echo", "1", "i32", "abc"});
  EXPECT_EQ(bad_int.rc, 10) << describe(bad_int);
  EXPECT_TRUE(contains(bad_int.err, "i32: bad value 'abc'")) << describe(bad_int);
  RunResult bad_type = ctl({"call", "echo", "1", "i33", "1"});
  EXPECT_EQ(bad_type.rc, 10) << describe(bad_type);
  RunResult bad_fd = ctl({"call", "echo", "5", "fd", "/nonexistent/file"});
  EXPECT_EQ(bad_fd.rc, 10) << describe(bad_fd);
  RunResult bad_code = ctl({"call", "echo", "x1"});
  EXPECT_EQ(bad_code.rc, 10) << describe(bad_code);
  RunResult unknown_code = ctl({"call", "echo", "99"});
  EXPECT_EQ(unknown_code.rc, 1) << describe(unknown_code);
  EXPECT_TRUE(contains(unknown_code.err, "failed")) << describe(unknown_code);
  RunResult mismatch = ctl({"call", "echo", "1", "s16", "a", "--reply", "s16,i64"});
  EXPECT_EQ(mismatch.rc, 1) << describe(mismatch);
  EXPECT_TRUE(contains(mismatch.err, "reply does not match --reply")) << describe(mismatch);
  // Every error is exactly one line.
  for (const RunResult* r : {&unknown, &ping, &unknown_code, &mismatch}) {
    EXPECT_EQ(std::count(r->err.begin(), r->err.end(), '\n'), 1) << describe(*r);
  }
}

TEST_F(BinderctlTest, DriverDumps) {
  RunResult state = ctl({"state"});
  ASSERT_EQ(state.rc, 0) << describe(state);
  EXPECT_TRUE(contains(state.out, "binder state:\n")) << describe(state);
  EXPECT_TRUE(contains(state.out, "context ")) << describe(state);
  RunResult stats = ctl({"stats"});
  ASSERT_EQ(stats.rc, 0) << describe(stats);
  EXPECT_TRUE(contains(stats.out, "binder stats:\n")) << describe(stats);
  RunResult txns = ctl({"transactions"});
  ASSERT_EQ(txns.rc, 0) << describe(txns);
  EXPECT_TRUE(contains(txns.out, "binder transactions:\n")) << describe(txns);
  RunResult explicit_device = ctl({"--device", daemons_->dir() + "/binder", "stats"});
  EXPECT_EQ(explicit_device.rc, 0) << describe(explicit_device);
}

// Its own daemons: the killed service must not affect the other tests.
TEST(BinderctlDeadObject, KilledServiceFailsWithOneLine) {
  Daemons d;
  ASSERT_EQ(d.start(true, true), "");
  d.killEcho();
  RunResult r;
  for (int i = 0; i < 100; ++i) {  // the manager may drop the dead service: either way rc 1
    r = ctl({"ping", "echo"});
    if (r.rc != 0) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(r.rc, 1) << describe(r);
  EXPECT_TRUE(contains(r.err, "dead object") || contains(r.err, "not found")) << describe(r);
}

TEST(BinderctlNoServiceManager, Exit20) {
  Daemons d;
  ASSERT_EQ(d.start(/*context_manager=*/false, /*echo=*/false), "");
  for (const char* command : {"list", "check"}) {
    std::vector<std::string> args = {command};
    if (std::string(command) == "check") {
      args.push_back("echo");
    }
    RunResult r = ctl(args);
    EXPECT_EQ(r.rc, 20) << describe(r);
    EXPECT_TRUE(contains(r.err, "binderctl: no service manager")) << describe(r);
  }
  // Dumps need no manager.
  EXPECT_EQ(ctl({"stats"}).rc, 0);
}

TEST(BinderctlNoDevice, Exit20) {
  ::setenv("NETBINDER_DIR", "/nonexistent-nb-dir", 1);
  RunResult r = ctl({"list"});
  ::unsetenv("NETBINDER_DIR");
  EXPECT_EQ(r.rc, 20) << describe(r);
  EXPECT_TRUE(contains(r.err, "cannot open binder device")) << describe(r);
}

}  // namespace
}  // namespace nb::cmds::testing
