// One event-loop thread of podgate: its own libuv loop, its own listening
// sockets (bound with SO_REUSEPORT, so the kernel spreads connections over
// the workers), its own directory client and its own sessions. What it
// shares with the other threads is read-only or thread-safe (Shared, below);
// its Worker and sessions are its own, and other threads reach them only
// through post() and visit(), which run a task on the worker's thread
// between two events.
#pragma once

#include <uv.h>

#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "proxy/directory/directory_client.h"
#include "proxy/listener.h"
#include "proxy/worker.h"

namespace podgate::proxy {

class WorkerThread {
 public:
  // What every worker gets from the process: read-only after start, or
  // thread-safe (metrics, access log, the embedded directory).
  struct Shared {
    const Config* config = nullptr;
    SSL_CTX* server_tls = nullptr;
    SSL_CTX* backend_tls = nullptr;
    bool backend_tls_verifies = false;
    core::metrics::Registry* metrics = nullptr;
    LoginMetrics* login_metrics = nullptr;
    LoginProtection* protection = nullptr;
    ConnectionLimits* connection_limits = nullptr;  // null: none
    AccessLog* access_log = nullptr;
    // The embedded directory serves every worker; otherwise each worker
    // makes its own client on its own loop.
    DirectoryClient* shared_directory = nullptr;
    std::function<std::unique_ptr<DirectoryClient>(uv_loop_t*)> make_directory;
    // Called on the worker's own thread once its loop has ended, so it must
    // be thread-safe (e.g. a uv_async_send to the control loop).
    std::function<void()> loop_ended;
  };
  using Task = std::function<void(Worker&)>;

  WorkerThread(unsigned index, const Shared& shared);
  ~WorkerThread();
  WorkerThread(const WorkerThread&) = delete;
  WorkerThread& operator=(const WorkerThread&) = delete;

  // Binds this worker's listeners (before start()); on failure a message
  // naming the address.
  std::string open_listeners();
  // Runs the loop on a new thread.
  void start();
  // Runs `task` on the worker's thread soon; false once the worker stopped.
  bool post(Task task);
  // Runs `task` on the worker's thread and waits until it has run (or the
  // worker stopped before it could).
  void visit(const Task& task);
  // Stops accepting and says goodbye to the sessions that have not logged
  // in; logged-in sessions go on until they end by themselves (or stop()).
  // The loop ends once the last session is gone; tasks still run until
  // then. Waits until the worker has done so and returns the number of
  // logged-in sessions left to finish.
  std::size_t drain();
  // Stops accepting, says goodbye to every session and lets the loop end.
  void stop();
  // Waits for the loop to end.
  void join();
  // The loop has ended (the thread is about to return); any thread.
  bool ended() const { return ended_; }

 private:
  static void on_wake(uv_async_t* handle);
  static void on_drain_check(uv_prepare_t* handle);
  void run_tasks();
  void stop_accepting();
  // A place under limits.max_connections may have freed up.
  void resume_listeners();
  std::size_t drain_on_loop();
  void stop_on_loop();
  // Last step of both ways to stop: no more tasks, the loop may end.
  void finish_on_loop();

  uv_loop_t loop_;
  uv_async_t wake_;
  // While draining: before each wait for I/O, has the last session gone?
  uv_prepare_t drain_check_;
  bool finished_ = false;
  std::function<void()> loop_ended_;
  std::atomic<bool> ended_{false};
  Worker worker_;
  std::unique_ptr<DirectoryClient> own_directory_;
  std::vector<std::unique_ptr<Listener>> listeners_;
  std::thread thread_;
  bool started_ = false;

  std::mutex mutex_;  // guards tasks_ and closed_
  std::vector<Task> tasks_;
  bool closed_ = false;
};

}  // namespace podgate::proxy
