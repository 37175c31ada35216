#include "adapters/http/responder.hpp"

#include <atomic>
#include <stdexcept>

namespace conveyor::http {

namespace {

// What open_stream returns for a request that was already answered.
class closed_stream final : public stream {
public:
  bool write(std::string) override {
    return false;
  }

  void end() override {
    // nop
  }

  bool closed() const override {
    return true;
  }
};

} // namespace

struct responder::state {
  std::shared_ptr<reply_sink> sink;
  std::atomic<bool> answered{false};

  ~state() {
    if (answered.load())
      return;
    try {
      sink->abandon();
    } catch (...) {
      // A destructor must not throw; the client then waits for its timeout.
    }
  }
};

responder::responder(std::shared_ptr<reply_sink> sink)
  : state_(std::make_shared<state>()) {
  if (!sink)
    throw std::invalid_argument("http::responder needs a reply sink");
  state_->sink = std::move(sink);
}

void responder::send(response res) const {
  if (!state_ || state_->answered.exchange(true))
    return;
  state_->sink->send(std::move(res));
}

std::shared_ptr<stream> responder::open_stream(int status,
                                               std::string content_type,
                                               header_list headers) const {
  if (!state_ || state_->answered.exchange(true))
    return std::make_shared<closed_stream>();
  return state_->sink->open_stream(status, std::move(content_type),
                                   std::move(headers));
}

bool responder::answered() const {
  return !state_ || state_->answered.load();
}

} // namespace conveyor::http
