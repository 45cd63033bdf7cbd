// SIGTERM/SIGINT handling. The handler only records the signal (no work in a signal handler);
// a waiting thread wakes and runs the service's ordered shutdown. After the first signal the
// default disposition is restored, so a second signal ends a hung shutdown.
#ifndef REBOUND_RUNTIME_SHUTDOWN_H_
#define REBOUND_RUNTIME_SHUTDOWN_H_

#include "absl/time/time.h"

namespace rebound::runtime {

class ShutdownSignal {
 public:
  // Installs the handlers for SIGTERM and SIGINT. One instance per process.
  ShutdownSignal();
  ~ShutdownSignal();
  ShutdownSignal(const ShutdownSignal&) = delete;
  ShutdownSignal& operator=(const ShutdownSignal&) = delete;

  // True once a signal arrived (or Trigger() was called). Cheap; poll it in loops.
  bool Requested() const;
  // Blocks until a signal arrives or Trigger() is called.
  void Wait();
  // Blocks at most `timeout`; returns Requested().
  bool WaitFor(absl::Duration timeout);
  // Requests shutdown from code (tests, fatal errors).
  void Trigger();
};

}  // namespace rebound::runtime

#endif  // REBOUND_RUNTIME_SHUTDOWN_H_
