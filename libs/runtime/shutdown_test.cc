#include "rebound/runtime/shutdown.h"

#include <signal.h>

#include <thread>

#include "gtest/gtest.h"

namespace rebound::runtime {
namespace {

bool HandlerIsDefault(int signal) {
  struct sigaction current {};
  sigaction(signal, nullptr, &current);
  return current.sa_handler == SIG_DFL;
}

TEST(ShutdownSignalTest, SigtermWakesWaiterAndRestoresDefault) {
  ShutdownSignal shutdown;
  EXPECT_FALSE(shutdown.Requested());
  EXPECT_FALSE(HandlerIsDefault(SIGTERM));

  std::thread waiter([&] { shutdown.Wait(); });
  ASSERT_EQ(raise(SIGTERM), 0);
  waiter.join();

  EXPECT_TRUE(shutdown.Requested());
  EXPECT_TRUE(shutdown.WaitFor(absl::ZeroDuration()));
  // A second signal now ends the process instead of being swallowed.
  EXPECT_TRUE(HandlerIsDefault(SIGTERM));
  EXPECT_TRUE(HandlerIsDefault(SIGINT));
}

TEST(ShutdownSignalTest, SigintIsHandledToo) {
  ShutdownSignal shutdown;
  ASSERT_EQ(raise(SIGINT), 0);
  EXPECT_TRUE(shutdown.WaitFor(absl::Seconds(5)));
}

TEST(ShutdownSignalTest, TriggerAndTimeout) {
  ShutdownSignal shutdown;
  EXPECT_FALSE(shutdown.WaitFor(absl::Milliseconds(20)));
  shutdown.Trigger();
  EXPECT_TRUE(shutdown.Requested());
  EXPECT_TRUE(shutdown.WaitFor(absl::Seconds(5)));
}

TEST(ShutdownSignalTest, DestructorRestoresPreviousHandlers) {
  { ShutdownSignal shutdown; }
  EXPECT_TRUE(HandlerIsDefault(SIGTERM));
  EXPECT_TRUE(HandlerIsDefault(SIGINT));
}

}  // namespace
}  // namespace rebound::runtime
