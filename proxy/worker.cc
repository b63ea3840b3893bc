#include "proxy/worker.h"

#include <unistd.h>

#include <atomic>
#include <cstdio>

namespace podgate::proxy {

std::string Worker::next_session_id() {
  // Unique across restarts and processes without any shared state: the
  // process id and start time, then one counter for all workers.
  static std::atomic<unsigned long long> counter{0};
  static const unsigned long long prefix =
      (static_cast<unsigned long long>(getpid()) << 24) ^ (uv_hrtime() / 1000000);
  char text[40];
  std::snprintf(text, sizeof text, "%010llx%06llx", prefix & 0xffffffffffULL,
                counter.fetch_add(1, std::memory_order_relaxed) + 1);
  return text;
}

}  // namespace podgate::proxy
