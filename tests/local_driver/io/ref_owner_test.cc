// NB_IOC_REF_OWNER (local_driver/client/netbinder_ioctl.h) end to end: client library -> wire ->
// binderd -> core, across processes and across two opens of one process (ctest label
// "integration").
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <optional>
#include <string>
#include <thread>

#include "gtest/gtest.h"
#include "local_driver/client/netbinder_ioctl.h"
#include "tests/local_driver/io/binderd_harness.h"

namespace nb::testing {
namespace {

constexpr uint64_t kMgrPtr = 0xabc0;
constexpr uint64_t kMgrCookie = 0xdef0;
constexpr uint64_t kNodePtr = 0x1000;
constexpr uint64_t kNodeCookie = 0x2000;

int refOwner(BinderClient& c, uint32_t handle, nb_ref_owner_info* out) {
  *out = {};
  out->handle = handle;
  return c.ioctl(NB_IOC_REF_OWNER, out);
}

// Polls until the node behind `handle` is reported dead (binderd releases a closed or killed
// process asynchronously). Returns the last answer's errno.
int waitDead(BinderClient& c, uint32_t handle, nb_ref_owner_info* out) {
  for (int i = 0; i < 500; ++i) {
    const int err = refOwner(c, handle, out);
    if (err != 0 || (out->flags & NB_REF_OWNER_DEAD) != 0) {
      return err;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return ETIMEDOUT;
}

// Context manager role (its own process): keeps the node the first (oneway) call carries, reports
// what NB_IOC_REF_OWNER says about it on `report` (pid, proc id, ptr, cookie, flags), answers the
// second (sync) call with a reply carrying that handle, then waits to be killed.
int serveManager(const std::string& socket, Pipe& ready, Pipe& report) {
  BinderClient m(socket);
  int32_t v;
  if (!m.ok() || m.map() != 0 || m.version(&v) != 0) {
    return 10;
  }
  flat_binder_object mgr{};
  mgr.hdr.type = BINDER_TYPE_BINDER;
  mgr.binder = kMgrPtr;
  mgr.cookie = kMgrCookie;
  std::vector<uint8_t> w;
  BinderClient::putU32(w, BC_ENTER_LOOPER);
  if (m.ioctl(BINDER_SET_CONTEXT_MGR_EXT, &mgr) != 0 || m.writeRead(w, nullptr, 0) != 0) {
    return 11;
  }
  ready.send(1);
  std::vector<Returned> got;
  if (m.transact({}, {BR_TRANSACTION}, &got) != 0 ||
      got.back().data.size() != sizeof(flat_binder_object)) {
    return 12;
  }
  flat_binder_object obj;
  std::memcpy(&obj, got.back().data.data(), sizeof(obj));
  const uint32_t h = obj.handle;
  w.clear();
  BinderClient::putU32(w, BC_INCREFS);
  BinderClient::putU32(w, h);
  BinderClient::putU32(w, BC_ACQUIRE);
  BinderClient::putU32(w, h);
  BinderClient::putFreeBuffer(w, got.back().txn.data.ptr.buffer);
  if (obj.hdr.type != BINDER_TYPE_HANDLE || m.writeRead(w, nullptr, 0) != 0) {
    return 13;
  }
  nb_ref_owner_info info{};
  if (refOwner(m, h, &info) != 0) {
    return 14;
  }
  report.send(info.owner_pid);
  report.send(static_cast<int64_t>(info.owner_proc_id));
  report.send(static_cast<int64_t>(info.node_ptr));
  report.send(static_cast<int64_t>(info.node_cookie));
  report.send(info.flags);
  got.clear();
  if (m.transact({}, {BR_TRANSACTION}, &got) != 0) {
    return 15;
  }
  flat_binder_object out{};
  out.hdr.type = BINDER_TYPE_HANDLE;
  out.handle = h;
  const binder_size_t offset = 0;
  w.clear();
  BinderClient::putFreeBuffer(w, got.back().txn.data.ptr.buffer);
  BinderClient::putTransaction(w, BC_REPLY, 0, 0, 0, &out, sizeof(out), &offset, 1);
  got.clear();
  if (m.transact(w, {BR_TRANSACTION_COMPLETE}, &got) != 0) {
    return 16;
  }
  ::pause();
  return 0;
}

// Parameter: binderd with --force-inline.
class RefOwnerIoTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    ASSERT_TRUE(daemon_.start(GetParam() ? std::vector<std::string>{"--force-inline"}
                                         : std::vector<std::string>{}));
  }
  Daemon daemon_;
};

// Processes: K is the context manager; this process opens the device twice (A and B). A sends its
// node to K; K hands it to B in a reply. B's handle then names A's open (same process: pointers
// included), K's names A's open without pointers, and each side sees the death of the other.
TEST_P(RefOwnerIoTest, OwnerOpenPointersDeathAndErrors) {
  const std::string sock = daemon_.socket();
  Pipe ready;
  Pipe report;
  const pid_t k = spawn([&] { return serveManager(sock, ready, report); });
  int64_t x;
  ASSERT_TRUE(ready.recv(&x));

  std::optional<BinderClient> a(std::in_place, sock);
  BinderClient b(sock);
  int32_t v;
  ASSERT_TRUE(a->ok() && b.ok());
  ASSERT_EQ(a->map(), 0);
  ASSERT_EQ(b.map(), 0);
  ASSERT_EQ(b.version(&v), 0);

  // A -> K: a oneway carrying A's node.
  flat_binder_object node{};
  node.hdr.type = BINDER_TYPE_BINDER;
  node.binder = kNodePtr;
  node.cookie = kNodeCookie;
  const binder_size_t offset = 0;
  std::vector<uint8_t> w;
  BinderClient::putTransaction(w, BC_TRANSACTION, 0, 1, TF_ONE_WAY, &node, sizeof(node), &offset,
                               1);
  std::vector<Returned> got;
  ASSERT_EQ(a->transact(w, {BR_TRANSACTION_COMPLETE, BR_FAILED_REPLY, BR_DEAD_REPLY}, &got), 0);
  ASSERT_EQ(got.back().cmd, static_cast<uint32_t>(BR_TRANSACTION_COMPLETE));

  // What K (another process) learns: A's open, A's pid, no pointers.
  int64_t k_pid, k_proc_id, k_ptr, k_cookie, k_flags;
  ASSERT_TRUE(report.recv(&k_pid));
  ASSERT_TRUE(report.recv(&k_proc_id));
  ASSERT_TRUE(report.recv(&k_ptr));
  ASSERT_TRUE(report.recv(&k_cookie));
  ASSERT_TRUE(report.recv(&k_flags));
  EXPECT_EQ(k_pid, ::getpid());
  EXPECT_NE(k_proc_id, 0);
  EXPECT_EQ(k_ptr, 0);
  EXPECT_EQ(k_cookie, 0);
  EXPECT_EQ(k_flags, 0);

  // B takes a ref on handle 0 (as libbinder does), then calls K and gets A's node as a handle.
  w.clear();
  BinderClient::putU32(w, BC_INCREFS);
  BinderClient::putU32(w, 0);
  BinderClient::putU32(w, BC_ACQUIRE);
  BinderClient::putU32(w, 0);
  const uint32_t ping = 0x50494e47;
  BinderClient::putTransaction(w, BC_TRANSACTION, 0, 2, 0, &ping, sizeof(ping));
  got.clear();
  ASSERT_EQ(b.transact(w, {BR_REPLY, BR_FAILED_REPLY, BR_DEAD_REPLY}, &got), 0);
  ASSERT_EQ(got.back().cmd, static_cast<uint32_t>(BR_REPLY));
  ASSERT_EQ(got.back().data.size(), sizeof(flat_binder_object));
  flat_binder_object in_b;
  std::memcpy(&in_b, got.back().data.data(), sizeof(in_b));
  ASSERT_EQ(in_b.hdr.type, static_cast<uint32_t>(BINDER_TYPE_HANDLE));
  const uint32_t hb = in_b.handle;
  ASSERT_NE(hb, 0u);
  w.clear();
  BinderClient::putU32(w, BC_INCREFS);
  BinderClient::putU32(w, hb);
  BinderClient::putU32(w, BC_ACQUIRE);
  BinderClient::putU32(w, hb);
  BinderClient::putFreeBuffer(w, got.back().txn.data.ptr.buffer);
  ASSERT_EQ(b.writeRead(w, nullptr, 0), 0);

  // B -> A's node: the other open of this process, so its ptr and cookie too.
  nb_ref_owner_info info{};
  ASSERT_EQ(refOwner(b, hb, &info), 0);
  EXPECT_EQ(info.owner_pid, ::getpid());
  EXPECT_EQ(static_cast<int64_t>(info.owner_proc_id), k_proc_id);
  EXPECT_EQ(info.node_ptr, kNodePtr);
  EXPECT_EQ(info.node_cookie, kNodeCookie);
  EXPECT_EQ(info.flags, 0u);
  // B -> handle 0: K's open, a different id, K's pid, no pointers.
  ASSERT_EQ(refOwner(b, 0, &info), 0);
  EXPECT_EQ(info.owner_pid, k);
  const uint64_t k_id = info.owner_proc_id;
  EXPECT_NE(static_cast<int64_t>(k_id), k_proc_id);
  EXPECT_EQ(info.node_ptr, 0u);
  EXPECT_EQ(info.node_cookie, 0u);

  // Errors: an unknown handle, a non-zero reserved word.
  EXPECT_EQ(refOwner(b, 99, &info), EINVAL);
  info = {};
  info.reserved = 1;
  EXPECT_EQ(b.ioctl(NB_IOC_REF_OWNER, &info), EINVAL);

  // A's open closes (the process lives on): B's handle now names a dead node of the same open.
  a.reset();
  ASSERT_EQ(waitDead(b, hb, &info), 0);
  EXPECT_EQ(info.flags, NB_REF_OWNER_DEAD);
  EXPECT_EQ(info.owner_pid, 0);
  EXPECT_EQ(static_cast<int64_t>(info.owner_proc_id), k_proc_id);
  EXPECT_EQ(info.node_ptr, 0u);
  EXPECT_EQ(info.node_cookie, 0u);

  // K is killed: B's handle 0 (its own ref 0; no manager any more) is dead, pid 0, K's id.
  ::kill(k, SIGKILL);
  waitExit(k);
  ASSERT_EQ(waitDead(b, 0, &info), 0);
  EXPECT_EQ(info.flags, NB_REF_OWNER_DEAD);
  EXPECT_EQ(info.owner_pid, 0);
  EXPECT_EQ(info.owner_proc_id, k_id);
}

INSTANTIATE_TEST_SUITE_P(Modes, RefOwnerIoTest, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& param_info) {
                           return param_info.param ? "Inline" : "Direct";
                         });

}  // namespace
}  // namespace nb::testing
