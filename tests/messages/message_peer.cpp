// A second OS process for the middleman test: publishes an actor on loopback
// that answers every message with itself, and sends a log part to any log
// listener handle it is given. Prints the port, then serves until killed.
#include <cstdio>
#include <thread>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/io/middleman.hpp>

#include "messages/type_ids.hpp"

using namespace conveyor;

int main() {
  caf::actor_system_config cfg;
  register_message_types(cfg);
  cfg.load<caf::io::middleman>();
  cfg.set("scheduler.max-threads", 2);
  caf::actor_system sys{cfg};
  auto peer = sys.spawn([](caf::event_based_actor* self) -> caf::behavior {
    self->set_default_handler(caf::reflect);
    return {
      [self](subscribe_atom, const log_listener_actor& listener) {
        self->send(listener, log_part{99, 2, 3, "from the peer\n", true});
      },
    };
  });
  auto port = sys.middleman().publish(peer, 0, "127.0.0.1", true);
  if (!port) {
    std::fprintf(stderr, "publish failed: %s\n",
                 caf::to_string(port.error()).c_str());
    return 1;
  }
  std::printf("%u\n", static_cast<unsigned>(*port));
  std::fflush(stdout);
  for (;;)
    std::this_thread::sleep_for(std::chrono::seconds(60));
}
