/* netbinder_ioctl.h: ioctls that binderd answers on a binder descriptor in addition to the kernel
 * UAPI (<linux/android/binder.h>). C-compatible; it defines nothing the UAPI defines.
 *
 * Magic: every Binder ioctl of the UAPI uses type 'b' (_IOWR('b', 1..15, ...)); netbinder's use
 * type 'N', so no number can equal a kernel Binder ioctl whatever its size or direction. These
 * numbers are only dispatched on binder descriptors (the client library and the LD_PRELOAD shim
 * route by descriptor, not by number), so other drivers' use of 'N' does not matter.
 *
 * On the kernel Binder driver these ioctls are unknown: binder_ioctl() fails them with EINVAL
 * (ENOTTY where the fd is not a binder file at all). Callers treat both as "unavailable".
 *
 * The argument is copied in and, on success only, copied back (as the kernel's copy_to_user). */
#ifndef NETBINDER_LOCAL_DRIVER_CLIENT_NETBINDER_IOCTL_H_
#define NETBINDER_LOCAL_DRIVER_CLIENT_NETBINDER_IOCTL_H_

#include <linux/android/binder.h>
#include <linux/ioctl.h>
#include <linux/types.h>

#define NB_IOC_MAGIC 'N'

/* NB_IOC_REF_OWNER: who owns the node behind a handle of the calling process.
 *
 * In:  handle   a handle (descriptor) of the calling open, strong or weak; 0 names the context
 *               manager (the current one; if none is registered, the node the caller's own ref 0
 *               still points at, if any).
 *      reserved must be 0.
 * Out: owner_pid     tgid of the process that owns the node; 0 when the owner is dead.
 *      owner_proc_id binderd's id of the owning binder_proc (one per open of the device: the same
 *                    process opening twice has two ids). Never 0, never reused by a running
 *                    binderd for the same device; still reported after the owner died.
 *      node_ptr, node_cookie  the node's ptr and cookie as the owner registered them, only when
 *                    the caller belongs to the owner's process (same tgid, any open) and the owner
 *                    is alive; else 0 (another process's pointers are never disclosed).
 *      flags         NB_REF_OWNER_DEAD: the owning binder_proc is gone (released: the open was
 *                    closed or the process died).
 * Errors: EINVAL for an unknown handle (or handle 0 with no context manager) and for
 *         reserved != 0. */
struct nb_ref_owner_info {
  __u32 handle;
  __u32 reserved;
  __s32 owner_pid;
  __u32 flags;
  __u64 owner_proc_id;
  __u64 node_ptr;
  __u64 node_cookie;
};

#define NB_REF_OWNER_DEAD 0x1u

#define NB_IOC_REF_OWNER _IOWR(NB_IOC_MAGIC, 0x01, struct nb_ref_owner_info)

#endif /* NETBINDER_LOCAL_DRIVER_CLIENT_NETBINDER_IOCTL_H_ */
