#pragma once

// Deterministic stand-ins for the client's clock, sleeper and jitter.

#include <chrono>
#include <memory>
#include <mutex>
#include <vector>

#include "adapters/github/github_client.hpp"

namespace conveyor::github::testing {

/// Clocks the test moves by hand and a sleeper that only records. Copies of
/// the hooks share this state; keep the object alive as long as the client.
struct manual_time {
  struct state {
    std::mutex mtx;
    std::chrono::steady_clock::time_point steady
      = std::chrono::steady_clock::time_point{} + std::chrono::hours{1000};
    std::chrono::system_clock::time_point wall
      = std::chrono::system_clock::time_point{}
        + std::chrono::seconds{1'700'000'000};
    std::vector<std::chrono::milliseconds> sleeps;
  };

  std::shared_ptr<state> s = std::make_shared<state>();

  /// Hooks reading these clocks; sleeping records the wait and advances
  /// both clocks by it; the jitter is always 0.5 (the exact backoff).
  client_hooks hooks() const {
    client_hooks h;
    auto st = s;
    h.sleep = [st](std::chrono::milliseconds x) {
      std::lock_guard<std::mutex> guard{st->mtx};
      st->sleeps.push_back(x);
      st->steady += x;
      st->wall += x;
    };
    h.steady_now = [st] {
      std::lock_guard<std::mutex> guard{st->mtx};
      return st->steady;
    };
    h.wall_now = [st] {
      std::lock_guard<std::mutex> guard{st->mtx};
      return st->wall;
    };
    h.random_unit = [] { return 0.5; };
    return h;
  }

  /// Moves both clocks forward.
  void advance(std::chrono::milliseconds x) const {
    std::lock_guard<std::mutex> guard{s->mtx};
    s->steady += x;
    s->wall += x;
  }

  std::chrono::system_clock::time_point wall() const {
    std::lock_guard<std::mutex> guard{s->mtx};
    return s->wall;
  }

  std::vector<std::chrono::milliseconds> sleeps() const {
    std::lock_guard<std::mutex> guard{s->mtx};
    return s->sleeps;
  }
};

} // namespace conveyor::github::testing
