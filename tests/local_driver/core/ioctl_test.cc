// ioctls other than WRITE_READ, mmap rules (kernel-binder.md §2).
#include "tests/local_driver/core/driver_harness.h"

namespace nb::driver::test {
namespace {

using IoctlTest = DriverTest;

TEST_F(IoctlTest, VersionIsEight) {
  Client a = open(100);
  binder_version v{};
  EXPECT_EQ(0, ioctl(a, 1, BINDER_VERSION, &v));
  EXPECT_EQ(v.protocol_version, 8);
}

TEST_F(IoctlTest, UnknownAndUnimplementedIoctlsAreEinval) {
  Client a = open(100);
  EXPECT_EQ(EINVAL, ioctl(a, 1, 0xdeadbeef));
  int64_t timeout = 0;
  EXPECT_EQ(EINVAL, ioctl(a, 1, BINDER_SET_IDLE_TIMEOUT, &timeout));
  binder_write_read bwr{};
  EXPECT_EQ(EINVAL, ioctl(a, 1, BINDER_WRITE_READ, &bwr));
}

TEST_F(IoctlTest, ContextManagerBusyAndEuidPinned) {
  Client a = open(100, 1000);
  Client b = open(200, 1000);
  Client c = open(300, 2000);
  int32_t zero = 0;
  EXPECT_EQ(0, ioctl(a, 1, BINDER_SET_CONTEXT_MGR, &zero));
  EXPECT_EQ(EBUSY, ioctl(b, 1, BINDER_SET_CONTEXT_MGR, &zero));
  EXPECT_EQ(EBUSY, ioctl(c, 1, BINDER_SET_CONTEXT_MGR, &zero));
  drv_.releaseProcess(a.id);
  // The manager died: another euid is still refused, the pinned euid may register.
  EXPECT_EQ(EPERM, ioctl(c, 1, BINDER_SET_CONTEXT_MGR, &zero));
  flat_binder_object fbo = binderObj(0x10, 0x20, FLAT_BINDER_FLAG_TXN_SECURITY_CTX);
  EXPECT_EQ(0, ioctl(b, 1, BINDER_SET_CONTEXT_MGR_EXT, &fbo));
}

TEST_F(IoctlTest, MmapRules) {
  Client a = open(100, 1000, 0);
  std::vector<uint8_t> area(8192);
  EXPECT_EQ(EINVAL, drv_.mmapArea(a.id, area, 0));
  EXPECT_EQ(0, drv_.mmapArea(a.id, area, 0x1000));
  EXPECT_EQ(EBUSY, drv_.mmapArea(a.id, area, 0x1000));
  drv_.unmapArea(a.id);
  EXPECT_EQ(EBUSY, drv_.mmapArea(a.id, area, 0x1000));
}

TEST_F(IoctlTest, NodeDebugInfoIteratesPtrGreaterThanInput) {
  Client mgr = open(100);
  makeContextManager(mgr, 1);
  Client a = open(200);
  Client b = open(300);
  startThread(a, 2);
  // a sends two binders to the manager: nodes 0x1000 and 0x2000 in a.
  Io io = wr(
      a, 2,
      Cmds().cmd(
          BC_TRANSACTION,
          txn(a, 0, 1, bytesOf(std::array{binderObj(0x2000, 1), binderObj(0x1000, 2)}), {0, 24})));
  EXPECT_EQ(io.error, 0);
  binder_node_debug_info info{};
  EXPECT_EQ(0, ioctl(a, 2, BINDER_GET_NODE_DEBUG_INFO, &info));
  EXPECT_EQ(info.ptr, 0x1000u);
  EXPECT_EQ(info.cookie, 2u);
  EXPECT_EQ(0, ioctl(a, 2, BINDER_GET_NODE_DEBUG_INFO, &info));
  EXPECT_EQ(info.ptr, 0x2000u);
  EXPECT_EQ(0, ioctl(a, 2, BINDER_GET_NODE_DEBUG_INFO, &info));
  EXPECT_EQ(info.ptr, 0u);
  // The manager's node has ptr 0 and is never returned (§17.14).
  binder_node_debug_info m{};
  EXPECT_EQ(0, ioctl(mgr, 1, BINDER_GET_NODE_DEBUG_INFO, &m));
  EXPECT_EQ(m.ptr, 0u);
  (void)b;
}

TEST_F(IoctlTest, ExtendedErrorReturnsAndClears) {
  Client a = open(100);
  startThread(a, 1);
  // No context manager: BR_DEAD_REPLY with -EINVAL (§17.9).
  Io io = wr(a, 1, Cmds().cmd(BC_TRANSACTION, txn(a, 0, 1, {})));
  EXPECT_EQ(io.codes(), (std::vector<uint32_t>{BR_NOOP, BR_DEAD_REPLY}));
  binder_extended_error ee = extendedError(a, 1);
  EXPECT_EQ(ee.command, BR_DEAD_REPLY);
  EXPECT_EQ(ee.param, -EINVAL);
  EXPECT_NE(ee.id, 0u);
  ee = extendedError(a, 1);
  EXPECT_EQ(ee.command, BR_OK);
  EXPECT_EQ(ee.param, 0);
  EXPECT_EQ(ee.id, 0u);
}

TEST_F(IoctlTest, NodeInfoForRefOnlyForManager) {
  Client mgr = open(100);
  startThread(mgr, 1);
  makeContextManager(mgr, 1);
  Client a = open(200);
  startThread(a, 2);
  binder_node_info_for_ref info{};
  EXPECT_EQ(EPERM, ioctl(a, 2, BINDER_GET_NODE_INFO_FOR_REF, &info));
  info.reserved1 = 1;
  EXPECT_EQ(EINVAL, ioctl(mgr, 1, BINDER_GET_NODE_INFO_FOR_REF, &info));
  info = {};
  info.handle = 1;
  EXPECT_EQ(EINVAL, ioctl(mgr, 1, BINDER_GET_NODE_INFO_FOR_REF, &info));
}

TEST_F(IoctlTest, FreezeUnknownPidIsEinval) {
  Client a = open(100);
  binder_freeze_info fi{4242, 1, 0};
  EXPECT_EQ(EINVAL, ioctl(a, 1, BINDER_FREEZE, &fi));
  binder_frozen_status_info st{};
  st.pid = 4242;
  EXPECT_EQ(EINVAL, ioctl(a, 1, BINDER_GET_FROZEN_INFO, &st));
  fi.pid = 100;
  EXPECT_EQ(0, ioctl(a, 1, BINDER_FREEZE, &fi));
  st.pid = 100;
  EXPECT_EQ(0, ioctl(a, 1, BINDER_GET_FROZEN_INFO, &st));
  EXPECT_EQ(st.sync_recv, 0u);
}

}  // namespace
}  // namespace nb::driver::test
