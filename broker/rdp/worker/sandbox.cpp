#include "sandbox.hpp"

#include "conduit/rdp/worker_protocol.hpp"

#include <grp.h>
#include <pwd.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

namespace conduit::rdp::worker {

namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif
constexpr rlim_t kMaxDataBytes = rlim_t{1} << 30;

std::string errnoText(const char* what) {
  return std::string(what) + ": " + std::strerror(errno);
}

// Lowers both limits to `value`, or to the hard limit already there if that is lower (an
// unprivileged process cannot raise it; a service manager may have set a tighter one).
std::string setLimit(int resource, rlim_t value, const char* name) {
  rlimit old{};
  if (::getrlimit(resource, &old) != 0) return errnoText(name);
  const rlim_t v = std::min(value, old.rlim_max);
  const rlimit limit{v, v};
  if (::setrlimit(resource, &limit) != 0) return errnoText(name);
  return {};
}

// Drops root for nobody/nogroup: a compromised worker then owns nothing on the host. Not root:
// the broker already runs it as an unprivileged user, nothing to drop.
std::string dropRoot(const std::string& ownedDir) {
  if (::geteuid() != 0) return {};
  const passwd* user = ::getpwnam("nobody");
  if (user == nullptr) return "no user nobody";
  const uid_t uid = user->pw_uid;
  gid_t gid = user->pw_gid;
  if (const group* nogroup = ::getgrnam("nogroup"); nogroup != nullptr) gid = nogroup->gr_gid;
  if (!ownedDir.empty() && ::chown(ownedDir.c_str(), uid, gid) != 0) return errnoText("chown");
  if (::setgroups(0, nullptr) != 0) return errnoText("setgroups");
  if (::setgid(gid) != 0) return errnoText("setgid");
  if (::setuid(uid) != 0) return errnoText("setuid");
  // Paranoia: a partial drop (saved uid still 0) must not go unnoticed.
  if (::setuid(0) == 0) return "could regain root after dropping it";
  return {};
}

// Default allow: FreeRDP, WinPR, OpenSSL and the sanitizers use a wide, version-dependent set of
// syscalls; a deny-list of what an exploit needs to leave this process is robust across them.
std::string installFilter(bool network) {
  scmp_filter_ctx ctx = ::seccomp_init(SCMP_ACT_ALLOW);
  if (ctx == nullptr) return "seccomp_init failed";
  const auto deny = SCMP_ACT_ERRNO(EPERM);
  // Running another program, debugging or reading other processes, changing the file-system
  // view or namespaces, loading kernel code or BPF, and kernel keyrings: none of these is part
  // of an RDP client; each is a step of an escape.
  constexpr std::array kDenied = {
      "execve",
      "execveat",
      "ptrace",
      "process_vm_readv",
      "process_vm_writev",
      "mount",
      "umount2",
      "pivot_root",
      "chroot",
      "setns",
      "unshare",
      "bpf",
      "perf_event_open",
      "init_module",
      "finit_module",
      "delete_module",
      "kexec_load",
      "keyctl",
      "add_key",
      "request_key",
      // io_uring could open and connect sockets (and more) without the calls filtered here;
      // fork and vfork are new processes as the clone rule below.
      "io_uring_setup",
      "io_uring_enter",
      "io_uring_register",
      "fork",
      "vfork",
  };
  int rc = 0;
  for (const char* name : kDenied) {
    const int nr = ::seccomp_syscall_resolve_name(name);
    if (nr == __NR_SCMP_ERROR) continue;  // not on this architecture
    rc = ::seccomp_rule_add(ctx, deny, nr, 0);
    if (rc != 0) break;
  }
  // No new sockets where the process needs none (the print converter): what it reads cannot
  // reach the network.
  if (rc == 0 && !network) rc = ::seccomp_rule_add(ctx, deny, SCMP_SYS(socket), 0);
  // New processes (fork, or clone without CLONE_THREAD): a worker only ever adds threads.
  if (rc == 0)
    rc = ::seccomp_rule_add(ctx, deny, SCMP_SYS(clone), 1,
                            SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, 0));
  // clone3 passes its flags in memory a filter cannot read: ENOSYS makes glibc fall back to
  // clone, where the rule above applies.
  if (rc == 0) rc = ::seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
  if (rc == 0) rc = ::seccomp_load(ctx);
  ::seccomp_release(ctx);
  if (rc != 0) return std::string("seccomp: ") + std::strerror(-rc);
  return {};
}

}  // namespace

std::string applyConverterSandbox(const std::string& ownedDir, std::uint64_t maxOutputBytes) {
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return errnoText("no_new_privs");
  if (auto e = setLimit(RLIMIT_CORE, 0, "RLIMIT_CORE"); !e.empty()) return e;
  // Its input, its output, Ghostscript's resource and font files, stdio.
  if (auto e = setLimit(RLIMIT_NOFILE, 32, "RLIMIT_NOFILE"); !e.empty()) return e;
  if (auto e = setLimit(RLIMIT_FSIZE, static_cast<rlim_t>(maxOutputBytes), "RLIMIT_FSIZE");
      !e.empty())
    return e;
  // 60 s of CPU: a few pages take well under one; a document written to keep Ghostscript busy
  // (PostScript is a programming language) is killed by the kernel if the broker's wall-clock
  // limit has not stopped it first.
  if (auto e = setLimit(RLIMIT_CPU, 60, "RLIMIT_CPU"); !e.empty()) return e;
  // 2 GiB of data: large pages rendered at high resolution fit; not under AddressSanitizer.
  if (!kSanitized) {
    if (auto e = setLimit(RLIMIT_DATA, rlim_t{2} << 30, "RLIMIT_DATA"); !e.empty()) return e;
  }
  if (auto e = dropRoot(ownedDir); !e.empty()) return e;
  return installFilter(false);
}

std::string applySandbox(const std::string& ownedDir, bool drive, bool printer) {
  // A setuid binary or file capability reached later must not raise privileges (and seccomp
  // without CAP_SYS_ADMIN requires it).
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return errnoText("no_new_privs");
  // A core dump would hold the password and the screen contents.
  if (auto e = setLimit(RLIMIT_CORE, 0, "RLIMIT_CORE"); !e.empty()) return e;
  // 64 descriptors: one socket to the broker, one to the server, a few for WinPR events and
  // libraries; more is a leak or an attack. A drive adds 64 for files the target opens on it
  // (FreeRDP's drive device answers "too many open files" past that).
  if (auto e = setLimit(RLIMIT_NOFILE, drive ? 128 : 64, "RLIMIT_NOFILE"); !e.empty()) return e;
  // The worker writes no files (the certificate store is disabled) except on the session's
  // drive, where each file is capped, and the printer's settings FreeRDP keeps (a few bytes);
  // stderr and sockets are not files under this limit. No RLIMIT_AS: ASan reserves terabytes
  // of virtual memory, and file mappings need no cap.
  const rlim_t fileBytes = drive     ? static_cast<rlim_t>(kMaxDriveFileBytes)
                           : printer ? rlim_t{64} << 10
                                     : 0;
  if (auto e = setLimit(RLIMIT_FSIZE, fileBytes, "RLIMIT_FSIZE"); !e.empty()) return e;
  // 1 GiB of data (heap, thread stacks, private writable mappings): a 4096x2160 desktop's
  // buffers and FreeRDP's caches need a small part of it; a hostile server that makes FreeRDP
  // hold its data without bound (e.g. sound queued for a playback thread it broke) makes an
  // allocation fail here, and only this session's worker dies. Not under AddressSanitizer,
  // whose shadow memory counts as data.
  if (!kSanitized) {
    if (auto e = setLimit(RLIMIT_DATA, kMaxDataBytes, "RLIMIT_DATA"); !e.empty()) return e;
  }
  if (auto e = dropRoot(ownedDir); !e.empty()) return e;
  return installFilter(true);
}

}  // namespace conduit::rdp::worker
