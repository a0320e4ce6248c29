// IBinder, LocalBinder and DeathRecipient: the objects a netbinder process calls and serves.
//
//   IBinder      anything that can be transacted on: a LocalBinder (an object of this process)
//                or a Proxy (a handle to another process's object, proxy.h). Held by
//                std::shared_ptr.
//   LocalBinder  the base class of served objects (libbinder BBinder). Override onTransact().
//                PING (_PNG) and INTERFACE (_NTF, replies the String16 descriptor) are answered
//                by default. Its id() is both the node ptr and the cookie the driver knows it by:
//                a process-wide counter value, never 0 and never reused, so a node key can never
//                dangle. While the driver holds references to the node (BR_INCREFS/BR_ACQUIRE),
//                the process-wide LocalObjectRegistry keeps a shared_ptr to the object.
//
// Threading: onTransact runs on looper threads (or the thread waiting in a nested call), possibly
// several at once; implementations synchronise their own state.
#pragma once

#include <linux/android/binder.h>

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "codec/parcel_reader.h"
#include "codec/parcel_writer.h"
#include "runtime/received_parcel.h"

namespace nb::runtime {

class LocalBinder;
class Proxy;
class RawResponder;
struct RawTransaction;

// IBinder.h transaction codes.
inline constexpr uint32_t kFirstCallTransaction = 0x00000001;
inline constexpr uint32_t kLastCallTransaction = 0x00ffffff;
inline constexpr uint32_t kPingTransaction = B_PACK_CHARS('_', 'P', 'N', 'G');
inline constexpr uint32_t kInterfaceTransaction = B_PACK_CHARS('_', 'N', 'T', 'F');
inline constexpr uint32_t kDumpTransaction = B_PACK_CHARS('_', 'D', 'M', 'P');
inline constexpr uint32_t kFlagOneway = TF_ONE_WAY;

class IBinder {
 public:
  virtual ~IBinder() = default;
  IBinder(const IBinder&) = delete;
  IBinder& operator=(const IBinder&) = delete;

  // A synchronous call (or one-way with kFlagOneway: the result is then an empty parcel once
  // the driver accepted it). Errors: binder_status.h.
  virtual absl::StatusOr<ReceivedParcel> transact(uint32_t code, const codec::ParcelWriter& data,
                                                  uint32_t flags = 0) = 0;
  virtual LocalBinder* asLocal() { return nullptr; }
  virtual Proxy* asProxy() { return nullptr; }

  // PING_TRANSACTION.
  absl::Status ping();
  // INTERFACE_TRANSACTION: the object's descriptor.
  absl::StatusOr<std::u16string> interfaceDescriptor();

 protected:
  IBinder() = default;
};

class LocalBinder : public IBinder, public std::enable_shared_from_this<LocalBinder> {
 public:
  explicit LocalBinder(std::u16string descriptor = u"");
  ~LocalBinder() override;

  // Calls the object directly (same process): the reply is copied into an owned parcel.
  absl::StatusOr<ReceivedParcel> transact(uint32_t code, const codec::ParcelWriter& data,
                                          uint32_t flags = 0) override;
  LocalBinder* asLocal() override { return this; }

  // The node ptr and cookie the driver knows this object by (never 0, never reused).
  uint64_t id() const { return id_; }
  const std::u16string& descriptor() const { return descriptor_; }
  // FLAT_BINDER_FLAG_* written with the object (ACCEPTS_FDS and "no minimum priority" 0x7f).
  virtual uint32_t flatFlags() const { return FLAT_BINDER_FLAG_ACCEPTS_FDS | 0x7f; }

  // Entry point of the runtime: the default codes, then onTransact. `reply` is null for one-way
  // calls. A non-OK status is sent back as a TF_STATUS_CODE reply (statusToStatusT).
  absl::Status dispatch(uint32_t code, codec::ParcelReader& data, codec::ParcelWriter* reply,
                        uint32_t flags);

  // Objects that forward calls without parsing them (raw_call.h) return true here; the runtime
  // then hands every BR_TRANSACTION for them to onRawTransaction instead of dispatch().
  // `responder` is null for one-way calls. Local (same-process) transact() still uses dispatch().
  virtual bool takesRawTransactions() const { return false; }
  virtual void onRawTransaction(const RawTransaction& call, RawResponder* responder);

 protected:
  // Default: Unimplemented (UNKNOWN_TRANSACTION).
  virtual absl::Status onTransact(uint32_t code, codec::ParcelReader& data,
                                  codec::ParcelWriter* reply, uint32_t flags);

 private:
  const uint64_t id_;
  const std::u16string descriptor_;
};

// Told when the process behind a Proxy dies (BR_DEAD_BINDER). Runs on a looper thread.
class DeathRecipient {
 public:
  virtual ~DeathRecipient() = default;
  virtual void binderDied(const std::weak_ptr<IBinder>& who) = 0;
};

}  // namespace nb::runtime
