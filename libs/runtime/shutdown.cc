#include "rebound/runtime/shutdown.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace rebound::runtime {
namespace {

// The handler may touch only these: an atomic flag and the write end of the self-pipe.
std::atomic<bool> g_signalled{false};
int g_pipe_write = -1;

constexpr char kSignalByte = 's';
constexpr char kStopByte = 'x';

void RestoreDefault(int signal) {
  struct sigaction action {};
  action.sa_handler = SIG_DFL;
  sigemptyset(&action.sa_mask);
  sigaction(signal, &action, nullptr);
}

extern "C" void OnShutdownSignal(int) {
  int saved_errno = errno;
  g_signalled.store(true);
  // A second signal must be able to end a shutdown that hangs.
  RestoreDefault(SIGTERM);
  RestoreDefault(SIGINT);
  if (g_pipe_write >= 0) {
    char byte = kSignalByte;
    [[maybe_unused]] ssize_t n = write(g_pipe_write, &byte, 1);
  }
  errno = saved_errno;
}

// Process-wide state behind the (stateless) class; there is one instance per process.
struct State {
  int pipe_read = -1;
  std::thread watcher;
  std::mutex mu;
  std::condition_variable cv;
  bool requested = false;
  struct sigaction old_term {};
  struct sigaction old_int {};
};

State* g_state = nullptr;

void MarkRequested() {
  std::lock_guard<std::mutex> lock(g_state->mu);
  g_state->requested = true;
  g_state->cv.notify_all();
}

}  // namespace

ShutdownSignal::ShutdownSignal() {
  g_state = new State;
  g_signalled.store(false);
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    // Without a pipe the flag still works for Requested(); Wait() then relies on Trigger().
    fds[0] = fds[1] = -1;
  }
  g_state->pipe_read = fds[0];
  g_pipe_write = fds[1];

  // The watcher turns the handler's byte into a condition-variable wake-up for any waiter.
  if (g_state->pipe_read >= 0) {
    g_state->watcher = std::thread([read_fd = g_state->pipe_read] {
      while (true) {
        char byte = 0;
        ssize_t n = read(read_fd, &byte, 1);
        if (n < 0 && errno == EINTR) {
          continue;
        }
        if (n <= 0 || byte == kStopByte) {
          return;
        }
        MarkRequested();
      }
    });
  }

  struct sigaction action {};
  action.sa_handler = OnShutdownSignal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  sigaction(SIGTERM, &action, &g_state->old_term);
  sigaction(SIGINT, &action, &g_state->old_int);
}

ShutdownSignal::~ShutdownSignal() {
  // Put back what was there before, unless the first signal already restored the default.
  if (!g_signalled.load()) {
    sigaction(SIGTERM, &g_state->old_term, nullptr);
    sigaction(SIGINT, &g_state->old_int, nullptr);
  }
  if (g_pipe_write >= 0) {
    char byte = kStopByte;
    [[maybe_unused]] ssize_t n = write(g_pipe_write, &byte, 1);
  }
  if (g_state->watcher.joinable()) {
    g_state->watcher.join();
  }
  int write_fd = g_pipe_write;
  g_pipe_write = -1;
  if (write_fd >= 0) {
    close(write_fd);
  }
  if (g_state->pipe_read >= 0) {
    close(g_state->pipe_read);
  }
  delete g_state;
  g_state = nullptr;
}

bool ShutdownSignal::Requested() const {
  if (g_signalled.load()) {
    return true;
  }
  std::lock_guard<std::mutex> lock(g_state->mu);
  return g_state->requested;
}

void ShutdownSignal::Wait() {
  std::unique_lock<std::mutex> lock(g_state->mu);
  g_state->cv.wait(lock, [] { return g_state->requested; });
}

bool ShutdownSignal::WaitFor(absl::Duration timeout) {
  std::unique_lock<std::mutex> lock(g_state->mu);
  return g_state->cv.wait_for(lock, absl::ToChronoNanoseconds(timeout),
                              [] { return g_state->requested; });
}

void ShutdownSignal::Trigger() { MarkRequested(); }

}  // namespace rebound::runtime
