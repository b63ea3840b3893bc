// One event-loop thread of podgate: its own libuv loop, its own listening
// sockets (bound with SO_REUSEPORT, so the kernel spreads connections over
// the workers), its own directory client and its own sessions. What it
// shares with the other threads is read-only or thread-safe (Shared, below);
// its Worker and sessions are its own, and other threads reach them only
// through post() and visit(), which run a task on the worker's thread
// between two events.
#pragma once

#include <uv.h>

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
    AccessLog* access_log = nullptr;
    // The embedded directory serves every worker; otherwise each worker
    // makes its own client on its own loop.
    DirectoryClient* shared_directory = nullptr;
    std::function<std::unique_ptr<DirectoryClient>(uv_loop_t*)> make_directory;
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
  // Stops accepting, says goodbye to every session and lets the loop end.
  void stop();
  // Waits for the loop to end.
  void join();

 private:
  static void on_wake(uv_async_t* handle);
  void run_tasks();
  void stop_on_loop();

  uv_loop_t loop_;
  uv_async_t wake_;
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
