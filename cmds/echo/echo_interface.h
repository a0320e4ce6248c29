// The echo example's interface, written by hand as the AIDL compiler would generate it:
//
//   package netbinder.example;
//   interface IEcho {                                      // registered as "echo"
//     String echo(String text);                            // 1
//     String callBack(IEchoCallback cb, String msg);       // 2: calls cb.onEcho(msg), returns it
//     oneway void record(int value);                       // 3
//     int[] getRecorded();                                 // 4: the recorded values, in order
//     byte[] readFd(in FileDescriptor fd);                 // 5: the file's contents
//     void fail(int errorCode, String message);            // 6: throws ServiceSpecificException
//     IBinder lookup(String name);                         // 7: checkService(name) in the
//                                                          //    service's own manager, or null
//     FileDescriptor echoMemfd(in FileDescriptor fd);      // 8: a new memfd ("echo-copy") with
//                                                          //    fd's contents (pread from 0, at
//                                                          //    most 64 MiB), access mode and
//                                                          //    seals
//     void dumpTo(in FileDescriptor out, long bytes);      // 9: writes `bytes` bytes of
//                                                          //    dumpPatternByte(i) to out
//                                                          //    (dumpsys-style; 64 KiB writes)
//     void socketEcho(in FileDescriptor sock);             // 10: returns at once; a worker
//                                                          //    echoes sock until EOF, then
//                                                          //    shutdown(SHUT_WR) and close
//   }
//   interface IEchoCallback { String onEcho(String msg); } // 1
//
// Requests start with the interface token (codec/parcel_headers.h) in the header format the
// process was configured with (--sm-layout; default the newest release's 'SYST' format); replies
// start with the AIDL Status. Strings are String16 on the wire; FileDescriptor is a plain fd
// object (libbinder writeUniqueFileDescriptor). lookup hands the caller a binder that may live in
// a third process (or, through bindergw, on a third host): how the gateway tests forward a binder
// between sessions. A failing checkService is an EX_ILLEGAL_STATE exception.
//
// Fds (8-10) are how the gateway tests check what an fd becomes on another host. A received fd
// belongs to the request parcel (closed when it is released); socketEcho works on a dup. The
// memfd echoMemfd returns is written as a plain fd object and closed by the service once the
// reply has been sent (the service takes raw transactions for that: onRawTransaction). dumpTo on
// a closed pipe or socket is an EX_ILLEGAL_STATE exception naming EPIPE, which needs SIGPIPE
// ignored (echo_service does). socketEcho's workers are bounded (kMaxSocketEchoWorkers at once,
// more is EX_ILLEGAL_STATE) and are woken (shutdown) and joined when the service is destroyed.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "codec/parcel_headers.h"
#include "runtime/binder.h"
#include "runtime/process_state.h"
#include "runtime/raw_call.h"
#include "runtime/service_manager_codes.h"

namespace nb::examples::echo {

inline constexpr char16_t kEchoDescriptor[] = u"netbinder.example.IEcho";
inline constexpr char16_t kEchoCallbackDescriptor[] = u"netbinder.example.IEchoCallback";
inline constexpr char kEchoServiceName[] = "echo";

inline constexpr uint32_t kEcho = 1;
inline constexpr uint32_t kCallBack = 2;
inline constexpr uint32_t kRecord = 3;
inline constexpr uint32_t kGetRecorded = 4;
inline constexpr uint32_t kReadFd = 5;
inline constexpr uint32_t kFail = 6;
inline constexpr uint32_t kLookup = 7;
inline constexpr uint32_t kEchoMemfd = 8;
inline constexpr uint32_t kDumpTo = 9;
inline constexpr uint32_t kSocketEcho = 10;

inline constexpr uint32_t kOnEcho = 1;

// Largest file readFd returns (the rest is cut off).
inline constexpr size_t kMaxReadFdBytes = 64 * 1024;
// Largest input echoMemfd copies (a bigger one is EX_ILLEGAL_ARGUMENT).
inline constexpr size_t kMaxEchoMemfdBytes = size_t{64} << 20;
// dumpTo's write size.
inline constexpr size_t kDumpChunkBytes = 64 * 1024;
// socketEcho workers running at once.
inline constexpr size_t kMaxSocketEchoWorkers = 16;

// Byte `index` of dumpTo's output (period 256, so every 64 KiB chunk is the same).
constexpr uint8_t dumpPatternByte(uint64_t index) {
  return static_cast<uint8_t>((index * 131 + 7) & 0xff);
}

// The service object. Thread-safe: methods run on any looper thread.
class EchoService final : public runtime::LocalBinder {
 public:
  // `layout`: the IServiceManager codes lookup uses (the process's --sm-layout).
  EchoService(std::shared_ptr<runtime::ProcessState> state, codec::InterfaceHeaderFormat format,
              runtime::ServiceManagerLayout layout = runtime::kNewestServiceManagerLayout);
  // Wakes (shutdown) and joins the socketEcho workers.
  ~EchoService() override;

  // Calls from other processes: dispatch() as usual, then the reply is sent here so that the fds
  // written into it (echoMemfd) can be closed once the driver has taken them.
  bool takesRawTransactions() const override { return true; }
  void onRawTransaction(const runtime::RawTransaction& call,
                        runtime::RawResponder* responder) override;

 protected:
  absl::Status onTransact(uint32_t code, codec::ParcelReader& data, codec::ParcelWriter* reply,
                          uint32_t flags) override;

 private:
  // One socketEcho worker. `fd` is closed by the worker when it is done (-1 after), under mu_,
  // so the destructor's shutdown never reaches a reused number.
  struct SocketWorker {
    int fd = -1;        // guarded by mu_
    bool done = false;  // guarded by mu_
    std::thread thread;
  };

  absl::Status callBack(codec::ParcelReader& data, codec::ParcelWriter* reply);
  absl::Status readFd(codec::ParcelReader& data, codec::ParcelWriter* reply);
  absl::Status lookup(codec::ParcelReader& data, codec::ParcelWriter* reply);
  absl::Status echoMemfd(codec::ParcelReader& data, codec::ParcelWriter* reply);
  absl::Status dumpTo(codec::ParcelReader& data, codec::ParcelWriter* reply);
  absl::Status socketEcho(codec::ParcelReader& data, codec::ParcelWriter* reply);
  void runSocketEcho(SocketWorker* worker);

  const std::shared_ptr<runtime::ProcessState> state_;
  const codec::InterfaceHeaderFormat format_;
  const runtime::ServiceManagerLayout layout_;
  std::mutex mu_;
  std::vector<int32_t> recorded_;                       // guarded by mu_
  std::vector<std::unique_ptr<SocketWorker>> workers_;  // guarded by mu_
  bool stopping_ = false;                               // guarded by mu_
};

// IEchoCallback.onEcho calls answer with `prefix + msg`; `calls` and the thread of the last call
// are recorded for the client's checks.
class EchoCallback final : public runtime::LocalBinder {
 public:
  EchoCallback(std::u16string prefix, codec::InterfaceHeaderFormat format);
  int calls() const;
  pid_t lastThread() const;

 protected:
  absl::Status onTransact(uint32_t code, codec::ParcelReader& data, codec::ParcelWriter* reply,
                          uint32_t flags) override;

 private:
  const std::u16string prefix_;
  const codec::InterfaceHeaderFormat format_;
  mutable std::mutex mu_;
  int calls_ = 0;          // guarded by mu_
  pid_t last_thread_ = 0;  // guarded by mu_
};

// Client-side stub (BpEcho). Every method: transport errors as binder_status.h, an AIDL exception
// as runtime::statusFromAidl, a malformed reply as the reader's error.
class EchoProxy {
 public:
  EchoProxy(std::shared_ptr<runtime::IBinder> remote, codec::InterfaceHeaderFormat format);

  absl::StatusOr<std::string> echo(std::string_view text);
  absl::StatusOr<std::string> callBack(const std::shared_ptr<runtime::IBinder>& cb,
                                       std::string_view msg);
  absl::Status record(int32_t value);  // one-way
  absl::StatusOr<std::vector<int32_t>> getRecorded();
  absl::StatusOr<std::vector<uint8_t>> readFd(int fd);
  absl::Status fail(int32_t error_code, std::string_view message);
  // The binder (a Proxy, or nullptr when the service has no such name).
  absl::StatusOr<std::shared_ptr<runtime::IBinder>> lookup(std::string_view name);
  // The returned memfd, as a dup (O_CLOEXEC) the caller closes. `fd` stays the caller's.
  absl::StatusOr<int> echoMemfd(int fd);
  absl::Status dumpTo(int fd, int64_t bytes);
  absl::Status socketEcho(int fd);

 private:
  absl::StatusOr<codec::ParcelWriter> request();
  // Sync call (transport errors only; the caller reads the Status with readReplyStatus).
  absl::StatusOr<runtime::ReceivedParcel> call(uint32_t code, const codec::ParcelWriter& data);

  const std::shared_ptr<runtime::IBinder> remote_;
  const codec::InterfaceHeaderFormat format_;
};

// The Status + result framing used by the stubs: reads the AIDL Status at the start of `reader`
// and turns an exception into an absl::Status.
absl::Status readReplyStatus(codec::ParcelReader& reader);

}  // namespace nb::examples::echo
