// Context: the whole state of one device context (binder, hwbinder or vndbinder) and the driver
// logic over it. Driver (driver.h) is its public facade. The member functions are grouped by
// concern into separate files, each named after what it holds:
//   context.cc            processes, threads, mmap, ioctls other than WRITE_READ, poll, flush
//   command_handler.cc    the BC_* write loop, one handleBcXxx per command
//   read_loop.cc          the read side: waiting, draining work into BR_*, BR_SPAWN_LOOPER
//   transaction.cc        BC_TRANSACTION/BC_REPLY, target selection, failed replies
//   object_translation.cc copying and translating transaction buffers; buffer release
//   node.cc               node reference counting and BR_INCREFS/ACQUIRE/RELEASE/DECREFS work
//   node_ref.cc           handles (refs) and death notifications
//   release.cc            THREAD_EXIT and process teardown (§10)
//   debug_dump.cc         debugfs-format state/stats/transactions
//
// Single-threaded: all state is owned by the one thread driving the Driver; there are no locks.
// Pointers between objects (Transaction <-> Thread/Buffer, NodeRef -> Node, ...) follow the C
// driver's lifetimes; every place that ends an object's life clears the pointers to it (see the
// INVARIANT comments on the fields).
#pragma once

#include <linux/android/binder.h>

#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "codec/object_walker.h"
#include "local_driver/core/binder_error.h"
#include "local_driver/core/driver.h"
#include "local_driver/core/process.h"
#include "local_driver/core/return_writer.h"
#include "local_driver/core/stats.h"

struct nb_ref_owner_info;  // local_driver/client/netbinder_ioctl.h

namespace nb::driver {

class CommandCursor;

class Context {
 public:
  Context(std::string name, Effects& effects, DriverOptions options);
  ~Context();

  // --- facade operations (driver.h) ---
  ProcId openProcess(ClientIdentity identity, std::unique_ptr<ClientMemory> memory);
  int mmapArea(ProcId id, std::span<uint8_t> view, uint64_t user_base);
  void unmapArea(ProcId id);
  IoctlResult ioctl(ProcId id, Tid tid, uint32_t cmd, std::span<uint8_t> arg);
  WriteReadResult writeRead(ProcId id, Tid tid, binder_write_read& bwr,
                            std::span<const uint8_t> write_bytes, std::span<uint8_t> read_out,
                            bool nonblock);
  WriteReadResult resumeRead(ProcId id, Tid tid, binder_write_read& bwr,
                             std::span<uint8_t> read_out, bool nonblock);
  void cancelWait(ProcId id, Tid tid);
  void setThreadNice(ProcId id, Tid tid, int nice);
  // Adds a pending nice change of the thread to a kDone result (Driver facade).
  WriteReadResult attachNice(ProcId id, Tid tid, WriteReadResult result);
  WriteReadResult fdsInstalled(ProcId id, Tid tid, binder_write_read& bwr,
                               std::span<uint8_t> read_out, std::span<const int> numbers);
  bool pollReadable(ProcId id, Tid tid);
  void flush(ProcId id);
  void releaseProcess(ProcId id);
  std::string dumpState() const;
  std::string dumpStats() const;
  std::string dumpTransactions() const;

 private:
  // --- context.cc ---
  Process* findProc(ProcId id) const;
  Thread* getThread(Process* proc, Tid tid);
  int dispatchIoctl(Process* proc, Thread* thread, uint32_t cmd, std::span<uint8_t> arg);
  int ioctlSetContextMgr(Process* proc, const flat_binder_object* fbo);
  int ioctlGetNodeDebugInfo(Process* proc, binder_node_debug_info* info);
  int ioctlGetNodeInfoForRef(Process* proc, binder_node_info_for_ref* info);
  int ioctlFreeze(const binder_freeze_info& info);
  int ioctlGetFrozenInfo(binder_frozen_status_info* info);
  // netbinder extension NB_IOC_REF_OWNER (netbinder_ioctl.h): who owns the node behind a handle.
  int ioctlRefOwner(Process* proc, nb_ref_owner_info* info);
  uint64_t nextDebugId() { return ++next_debug_id_; }

  // --- command_handler.cc ---
  int writeLoop(Process* proc, Thread* thread, binder_write_read& bwr,
                std::span<const uint8_t> bytes);
  int handleBcCommand(Process* proc, Thread* thread, uint32_t cmd, CommandCursor& in);
  int handleBcRefCount(Process* proc, Thread* thread, uint32_t cmd, uint32_t target);
  void handleBcNodeDone(Process* proc, uint32_t cmd, const binder_ptr_cookie& pc);
  void handleBcFreeBuffer(Process* proc, Thread* thread, uint64_t data_ptr);
  void handleBcRegisterLooper(Process* proc, Thread* thread);
  void handleBcEnterLooper(Thread* thread);
  void handleBcDeathNotification(Process* proc, Thread* thread, uint32_t cmd, uint32_t target,
                                 uint64_t cookie);
  void handleBcDeadBinderDone(Process* proc, Thread* thread, uint64_t cookie);

  // --- read_loop.cc ---
  WriteReadResult readPart(Process* proc, Thread* thread, binder_write_read& bwr,
                           std::span<uint8_t> out, bool nonblock);
  WriteReadResult drain(Process* proc, Thread* thread, binder_write_read& bwr,
                        std::span<uint8_t> out, size_t pos, bool wait_for_proc_work, bool nonblock);
  WriteReadResult finishRead(Process* proc, Thread* thread, binder_write_read& bwr,
                             std::span<uint8_t> out, size_t pos);
  WriteReadResult park(Process* proc, Thread* thread, bool wait_for_proc_work, bool nonblock);
  bool availableForProcWork(const Thread* thread) const;
  bool hasWork(const Thread* thread, bool do_proc_work) const;
  enum class Drained : uint8_t { kContinue, kStop, kFault, kNeedFds };
  Drained deliverWork(Process* proc, Thread* thread, WorkItem* w, ReturnWriter& out,
                      bool wait_for_proc_work);
  Drained deliverTransaction(Process* proc, Thread* thread, Transaction* t, ReturnWriter& out,
                             bool wait_for_proc_work);
  Drained deliverDeath(Process* proc, Death* death, ReturnWriter& out);
  void completeDelivery(Thread* thread, Transaction* t, uint32_t cmd);
  void failFdDelivery(Process* proc, Thread* thread, Transaction* t, uint32_t cmd,
                      ReturnWriter& out);
  void finishIoctl(Thread* thread) { thread->looper_need_return = false; }
  // Kernel binder_set_nice: the thread takes `nice` (set_user_nice ignores values outside
  // [-20, 19]); the client applies it when the ioctl returns.
  static void setNice(Thread* thread, int nice);

  // --- transaction.cc ---
  void handleTransaction(Process* proc, Thread* thread, const binder_transaction_data& tr,
                         bool reply, uint64_t extra_buffers_size);
  BinderError resolveTarget(Process* proc, Thread* thread, const binder_transaction_data& tr,
                            Node** target_node, Thread** target_thread);
  BinderError resolveReplyTarget(Thread* thread, Transaction** in_reply_to, Thread** target_thread);
  uint32_t procTransaction(Transaction* t, Process* target, Thread* target_thread);
  static Transaction* findOutdatedTransaction(const Transaction* t, const WorkList& async_todo);
  void replaceOutdatedTransaction(Process* target, Transaction* outdated);
  BinderError buildTransaction(Process* proc, Thread* thread, Transaction* t,
                               const binder_transaction_data& tr, uint64_t buffers_size,
                               Node* target_node, Transaction* in_reply_to);
  BinderError submitTransaction(Thread* thread, Transaction* t, Transaction* in_reply_to,
                                Thread* target_thread);
  void discardTransaction(Transaction* t);
  void failTransaction(Thread* thread, Transaction* in_reply_to, uint64_t t_debug_id,
                       BinderError err);
  void sendFailedReply(Transaction* t, uint32_t error_code);
  void cleanupTransaction(Transaction* t, uint32_t error_code);
  void popTransaction(Thread* target_thread, Transaction* t);
  Transaction* newTransaction();
  void freeTransaction(Transaction* t);
  CodeWork* newCodeWork(WorkType type);
  void freeCodeWork(CodeWork* w);
  Thread* selectThread(Process* proc);
  void wakeupThread(Process* proc, Thread* thread);
  void wakeupProc(Process* proc);
  void enqueueThreadWork(Thread* thread, WorkItem* w);
  void enqueueDeferredThreadWork(Thread* thread, WorkItem* w);
  void enqueueProcWork(Process* proc, WorkItem* w);

  // --- object_translation.cc ---
  BinderError allocBuffer(Process* target, const binder_transaction_data& tr, uint64_t extra_size,
                          bool is_async, int32_t pid, Buffer** out);
  BinderError copyAndTranslate(Process* proc, Thread* thread, Process* target, Transaction* t,
                               const binder_transaction_data& tr, uint64_t buffers_size,
                               bool allow_fds);
  BinderError translateObject(Process* proc, Thread* thread, Process* target, Buffer* buf,
                              const codec::WalkedObject& obj, bool allow_fds);
  BinderError translateBinder(Process* proc, Thread* thread, Process* target, Buffer* buf,
                              const codec::WalkedObject& obj);
  BinderError translateHandle(Process* proc, Process* target, Buffer* buf,
                              const codec::WalkedObject& obj);
  BinderError translateFd(Process* proc, Buffer* buf, const codec::WalkedObject& obj,
                          uint64_t area_offset, bool in_fda);
  BinderError translateFda(Process* proc, Process* target, Buffer* buf,
                           const codec::WalkedObject& obj);
  BinderError translatePtr(Process* target, Buffer* buf, const codec::WalkedObject& obj);
  void releaseBufferObjects(Process* proc, Buffer* buf, bool is_failure);
  void freeBuf(Process* proc, Buffer* buf, bool is_failure);
  void releaseBuffer(Process* proc, Buffer* buf);
  Buffer* newBuffer(Process* proc);
  uint64_t userAddress(const Process* proc, uint64_t area_offset) const {
    return proc->user_base + area_offset;
  }

  // --- node.cc ---
  Node* newNode(Process* proc, uint64_t ptr, uint64_t cookie, uint32_t flags);
  Node* getNode(Process* proc, uint64_t ptr) const;
  int incNode(Node* node, bool strong, bool internal, Thread* target_thread);
  void decNode(Node* node, bool strong, bool internal);
  bool decNodeNoFree(Node* node, bool strong, bool internal);
  void incNodeTmpRef(Node* node) { ++node->tmp_refs; }
  void decNodeTmpRef(Node* node);
  void freeNode(Node* node);
  bool writeNodeWork(Process* proc, Node* node, ReturnWriter& out);

  // --- node_ref.cc ---
  NodeRef* getRef(Process* proc, uint32_t desc, bool need_strong) const;
  int incRefForNode(Process* proc, Node* node, bool strong, Thread* target_thread,
                    uint32_t* desc_out);
  int incRef(NodeRef* ref, bool strong, Thread* target_thread);
  bool decRef(NodeRef* ref, bool strong);
  void deleteRef(NodeRef* ref);
  int updateRefForHandle(Process* proc, uint32_t desc, bool increment, bool strong);
  Death* newDeath(Process* proc, NodeRef* ref, uint64_t cookie);
  void freeDeath(Process* proc, Death* death);

  // --- release.cc ---
  void threadRelease(Process* proc, Thread* thread);
  void releaseWork(Process* proc, WorkList& list);
  void nodeRelease(Node* node);

  // --- debug_dump.cc ---
  void dumpProc(std::string& out, const Process* proc, bool print_all) const;
  void dumpThread(std::string& out, const Thread* thread, bool print_always) const;
  void dumpNode(std::string& out, const Node* node) const;
  void dumpTransaction(std::string& out, const char* prefix, const Transaction* t,
                       const Process* printing) const;
  void dumpWork(std::string& out, const char* prefix, const char* txn_prefix, const WorkItem* w,
                const Process* printing) const;

  std::string name_;
  Effects& effects_;
  std::map<uint32_t, std::unique_ptr<Process>> procs_;
  uint32_t next_proc_id_ = 1;
  uint64_t next_debug_id_ = 0;

  // Context manager (§2): the node, and the euid pinned by the first manager forever.
  Node* mgr_node_ = nullptr;
  std::optional<uint32_t> mgr_uid_;

  // INVARIANT: nodes whose owner died but which are still referenced (owner == nullptr).
  std::unordered_map<Node*, std::unique_ptr<Node>> dead_nodes_;

  // Pools: a transaction in steady state allocates neither a Transaction nor a CodeWork.
  std::vector<std::unique_ptr<Transaction>> txn_pool_;
  std::vector<Transaction*> free_txns_;
  std::vector<std::unique_ptr<CodeWork>> code_pool_;
  std::vector<CodeWork*> free_codes_;
  std::vector<codec::WalkedObject> walked_;  // scratch: objects of the transaction being built

  Stats stats_;
  // The security context delivered with BR_TRANSACTION_SEC_CTX, NUL included; empty: such
  // transactions fail (DriverOptions).
  std::string secctx_;
};

}  // namespace nb::driver
