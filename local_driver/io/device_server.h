// DeviceServer: binderd's I/O adapter for one device (binder, hwbinder or vndbinder). It owns the
// device's listening SEQPACKET socket, every client connection, one core Driver and the event loop
// thread that drives it (run()). It frames requests (local_driver/client/wire.h), validates them,
// calls the Driver, parks blocked reads until Effects::wakeThread, passes files with SCM_RIGHTS,
// and keeps each process's pollable eventfd level in step with Driver::pollReadable.
//
// Threading: everything except stop() runs on the thread that calls run(). Effects callbacks only
// queue work; the queue is drained after the Driver call returns (decide inside, act outside).
#pragma once

#include <sys/socket.h>
#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "local_driver/client/seqpacket.h"
#include "local_driver/core/driver.h"
#include "local_driver/io/area.h"
#include "local_driver/io/event_loop.h"
#include "local_driver/io/process_memory.h"

namespace nb::driver::io {

class DeviceServer final : public Effects {
 public:
  // `listen_fd`: a bound, listening SOCK_SEQPACKET socket (owned). `force_inline`: treat every
  // client as if process_vm_readv/pidfd_getfd were denied (tests of the inline fallback).
  // `options`: passed to the core Driver (security context for TXN_SECURITY_CTX nodes).
  DeviceServer(std::string name, int listen_fd, bool force_inline = false,
               DriverOptions options = {});
  ~DeviceServer() override;
  DeviceServer(const DeviceServer&) = delete;
  DeviceServer& operator=(const DeviceServer&) = delete;

  const std::string& name() const { return name_; }
  // Serves until stop(). Returns 0 or an errno.
  int run();
  // Thread-safe.
  void stop() { loop_.stop(); }

  // Effects (called from inside Driver methods).
  void wakeThread(ProcId proc, Tid tid) override;
  void wakePollers(ProcId proc) override;
  void closeClientFds(ProcId proc, std::vector<int> fds) override;

 private:
  struct ProcState;

  enum class Role : uint8_t { kNew, kControl, kThread };

  struct Conn {
    uint64_t id = 0;
    int fd = -1;
    EventLoop::HandlerId handler = 0;
    Role role = Role::kNew;
    ucred cred{};
    ProcState* proc = nullptr;  // kControl / kThread
    Tid tid = 0;                // kThread
    // A BINDER_WRITE_READ in progress (parked, or waiting for kFdsInstalled).
    bool parked = false;
    bool awaiting_fds = false;
    size_t fds_expected = 0;
    bool nonblock = false;
    binder_write_read bwr{};
    uint64_t client_read_size = 0;  // bwr.read_size as the client gave it
    uint64_t read_consumed_on_entry = 0;
    std::vector<uint8_t> read_out;
    // Inline memory and files for the next kIoctl (inline mode); cleared after it.
    InlineSnapshot snapshot;
  };

  struct ProcState {
    ProcId id{};
    uint64_t token = 0;
    pid_t pid = 0;
    uid_t euid = 0;
    int eventfd = -1;
    bool signaled = false;
    uint32_t mode = 0;                // wire kMode* bits
    ProcessMemory* memory = nullptr;  // owned by the Driver's process; null once released
    Conn* control = nullptr;
    std::unordered_map<Tid, Conn*> threads;
    std::vector<Tid> pollers;
    std::unique_ptr<Area> area;
    std::unique_ptr<Area> pending_area;
    std::vector<int> close_fds;  // FDA fds to close in the client, sent with the next reply
  };

  void onAccept();
  void onReadable(uint64_t conn_id);
  void dispatch(Conn& conn, client::Message& msg);
  void dropConn(Conn& conn);

  void handleOpen(Conn& conn, client::Message& msg);
  void handleAttach(Conn& conn, client::Message& msg);
  void handleAdmin(Conn& conn, client::Message& msg);
  void handleMmap(Conn& conn, client::Message& msg);
  void handleMmapCommit(Conn& conn, client::Message& msg);
  void handleMunmap(Conn& conn);
  void handleFlush(Conn& conn);
  void handlePollRegister(Conn& conn, client::Message& msg);
  void handleIoctl(Conn& conn, client::Message& msg);
  void handleWriteRead(Conn& conn, const client::wire::IoctlRequest& req,
                       std::span<const uint8_t> arg, std::span<const uint8_t> inline_write);
  void handleFdsInstalled(Conn& conn, client::Message& msg);
  void handleInlineMemory(Conn& conn, client::Message& msg);
  void handleInterrupt(Conn& conn);
  void handleInlineFds(Conn& conn, client::Message& msg);

  // Acts on a writeRead/resumeRead/fdsInstalled result for `conn`.
  void finishWriteRead(Conn& conn, WriteReadResult result);
  void sendIoctlReply(Conn& conn, int error, std::span<const uint8_t> arg,
                      std::span<const uint8_t> read_bytes, client::wire::IoctlReply head = {});
  void reply(Conn& conn, int error, std::span<const uint8_t> payload = {},
             std::span<const int> fds = {});

  void releaseProc(ProcState& proc);
  // Runs queued wake-ups and refreshes poll levels; call after every Driver call.
  void drainEffects();
  void updatePollLevel(ProcState& proc);
  // Brings the poll level of every process with pending poll changes up to date. Called before any
  // reply leaves the daemon, so that a client that learns of new work (its own ioctl returned, or a
  // peer told it after its ioctl returned) never polls a stale level.
  void settlePollLevels(ProcState* also);
  ProcState* findProc(ProcId id);

  std::string name_;
  int listen_fd_;
  bool force_inline_;
  EventLoop loop_;
  Driver driver_;
  uint64_t next_conn_id_ = 1;
  std::unordered_map<uint64_t, std::unique_ptr<Conn>> conns_;
  std::unordered_map<uint64_t, std::unique_ptr<ProcState>> procs_;  // by token
  std::unordered_map<uint32_t, ProcState*> procs_by_id_;
  // Effects queued during a Driver call.
  std::vector<std::pair<ProcId, Tid>> wake_queue_;
  std::vector<ProcId> poll_dirty_;
  bool draining_ = false;
};

}  // namespace nb::driver::io
