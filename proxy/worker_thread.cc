#include "proxy/worker_thread.h"

#include <spdlog/spdlog.h>

#include <future>

#include "proxy/login_metrics.h"
#include "proxy/protection/connection_limits.h"

namespace podgate::proxy {

WorkerThread::WorkerThread(unsigned index, const Shared& shared) {
  uv_loop_init(&loop_);
  uv_async_init(&loop_, &wake_, &WorkerThread::on_wake);
  wake_.data = this;
  uv_prepare_init(&loop_, &drain_check_);
  drain_check_.data = this;
  loop_ended_ = shared.loop_ended;
  worker_.index = index;
  worker_.loop = &loop_;
  worker_.config = shared.config;
  worker_.server_tls = shared.server_tls;
  worker_.backend_tls = shared.backend_tls;
  worker_.backend_tls_verifies = shared.backend_tls_verifies;
  worker_.metrics = shared.metrics;
  worker_.login_metrics = shared.login_metrics;
  worker_.protection = shared.protection;
  worker_.connection_limits = shared.connection_limits;
  if (worker_.connection_limits) {
    // A session on any worker that frees a place at limits.max_connections
    // wakes this worker if its listeners wait for one; the wake-up is a task
    // on this worker's loop, where the listeners try again.
    worker_.budget_waiter = worker_.connection_limits->budget.add_waiter(
        [this] { post([this](Worker&) { resume_listeners(); }); });
  }
  worker_.access_log = shared.access_log;
  worker_.connections_accepted = &shared.metrics->counter(
      "podgate_worker_connections_total", "Client connections accepted, by worker thread",
      core::metrics::label("worker", std::to_string(index)));
  if (shared.shared_directory) {
    worker_.directory = shared.shared_directory;
  } else {
    own_directory_ = shared.make_directory(&loop_);
    worker_.directory = own_directory_.get();
  }
}

WorkerThread::~WorkerThread() {
  if (!started_) {
    // Never ran (another worker could not bind): close the handles here.
    stop_on_loop();
    uv_run(&loop_, UV_RUN_DEFAULT);
  }
  join();
  if (int status = uv_loop_close(&loop_); status != 0) {
    spdlog::error("worker {}: handles still open at exit: {}", worker_.index, uv_strerror(status));
  }
}

std::string WorkerThread::open_listeners() {
  for (const auto& listener_config : worker_.config->listeners) {
    auto listener = std::make_unique<Listener>(worker_, listener_config);
    std::string problem = listener->start();
    listeners_.push_back(std::move(listener));
    if (!problem.empty()) return problem;
  }
  return "";
}

void WorkerThread::start() {
  started_ = true;
  thread_ = std::thread([this] {
    uv_run(&loop_, UV_RUN_DEFAULT);
    ended_ = true;
    if (loop_ended_) loop_ended_();
  });
}

bool WorkerThread::post(Task task) {
  {
    std::lock_guard lock(mutex_);
    if (closed_) return false;
    tasks_.push_back(std::move(task));
  }
  uv_async_send(&wake_);
  return true;
}

void WorkerThread::visit(const Task& task) {
  // A task that post() accepted always runs, even when the worker stops
  // meanwhile (stop_on_loop runs what is queued), so the wait ends.
  std::promise<void> done;
  std::future<void> finished = done.get_future();
  bool posted = post([&task, &done](Worker& worker) {
    task(worker);
    done.set_value();
  });
  if (posted) finished.wait();
}

std::size_t WorkerThread::drain() {
  std::size_t left = 0;
  visit([this, &left](Worker&) { left = drain_on_loop(); });
  return left;
}

void WorkerThread::stop() {
  post([this](Worker&) { stop_on_loop(); });
}

void WorkerThread::join() {
  if (thread_.joinable()) thread_.join();
}

void WorkerThread::on_wake(uv_async_t* handle) {
  static_cast<WorkerThread*>(handle->data)->run_tasks();
}

void WorkerThread::run_tasks() {
  std::vector<Task> batch;
  {
    std::lock_guard lock(mutex_);
    batch.swap(tasks_);
  }
  for (auto& task : batch) task(worker_);
}

void WorkerThread::resume_listeners() {
  if (worker_.stopping) return;
  for (auto& listener : listeners_) listener->resume_if_paused();
}

void WorkerThread::stop_accepting() {
  if (worker_.stopping) return;
  worker_.stopping = true;
  for (auto& listener : listeners_) listener->close();
}

std::size_t WorkerThread::drain_on_loop() {
  if (finished_) return 0;
  stop_accepting();
  // drain() may free the session: iterate over a copy.
  auto sessions = worker_.sessions;
  for (auto* session : sessions) session->drain();
  std::size_t logged_in = 0;
  for (const auto* session : worker_.sessions) logged_in += session->summary().logged_in;
  uv_prepare_start(&drain_check_, &WorkerThread::on_drain_check);
  return logged_in;
}

void WorkerThread::on_drain_check(uv_prepare_t* handle) {
  auto* self = static_cast<WorkerThread*>(handle->data);
  // Sessions leave the set when they are freed, after their last close
  // callback: an empty set means nothing of theirs is left on the loop.
  if (self->worker_.sessions.empty()) self->finish_on_loop();
}

void WorkerThread::stop_on_loop() {
  if (finished_) return;
  stop_accepting();
  // shut_down() may free the session: iterate over a copy.
  auto sessions = worker_.sessions;
  for (auto* session : sessions) session->shut_down();
  finish_on_loop();
}

void WorkerThread::finish_on_loop() {
  if (finished_) return;
  finished_ = true;
  uv_close(reinterpret_cast<uv_handle_t*>(&drain_check_), nullptr);
  if (own_directory_) own_directory_->close();
  // No task is accepted from now on; those already queued still run, so
  // nobody waits in visit() for ever.
  std::vector<Task> last;
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
    last.swap(tasks_);
  }
  for (auto& task : last) task(worker_);
  uv_close(reinterpret_cast<uv_handle_t*>(&wake_), nullptr);
}

}  // namespace podgate::proxy
