// The live logins of a run. Each login that is still logging in holds one of
// --concurrency slots (and with --resume that slot's TLS session); the pool
// owns the scripts until they are done. Credentials go round-robin by the
// login's number.
#pragma once

#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "bench/podgate-bench/credentials.h"
#include "bench/podgate-bench/login_script.h"
#include "bench/podgate-bench/tls_resumption.h"

namespace podgate::bench {

class LoginPool {
 public:
  LoginPool(const LoginSetup& setup, const Credentials& credentials, std::uint64_t slots,
            bool resume);

  bool has_free_slot() const { return !free_.empty(); }
  std::uint64_t started() const { return started_; }
  bool empty() const { return live_.empty(); }

  // Starts the next login on a free slot; `observer` hears how it ends.
  // `due_ns`: see LoginScript::start.
  void start(LoginScript::Observer& observer, std::uint64_t due_ns = 0);
  // A held session gives its slot back and stays open.
  void release_slot(LoginScript& login);
  // The login is done: its slot is free again. The script is deleted on a
  // later call, never inside its own callback (which is where this runs).
  void remove(LoginScript& login);
  // Every live login's stop(); they report back through their observers.
  void stop_all();

 private:
  struct Entry {
    std::unique_ptr<LoginScript> script;
    SessionSlot* slot;  // null once given back
  };

  const LoginSetup& setup_;
  const Credentials& credentials_;
  bool resume_;
  std::unique_ptr<SessionSlot[]> slots_;
  std::vector<SessionSlot*> free_;
  std::unordered_map<LoginScript*, Entry> live_;
  std::vector<std::unique_ptr<LoginScript>> retired_;
  std::uint64_t started_ = 0;
};

}  // namespace podgate::bench
