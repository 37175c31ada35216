#include "app/subscription.hpp"

#include <chrono>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <spdlog/spdlog.h>

#include "messages/error.hpp"
#include "messages/type_ids.hpp"

namespace conveyor {

namespace {

using resubscribe_atom = caf::atom_constant<caf::atom("resub")>;

constexpr auto subscribe_timeout = std::chrono::seconds(10);
constexpr auto retry_delay = std::chrono::milliseconds(50);

void subscribe(caf::event_based_actor* self, const caf::actor& front,
               const caf::message& msg) {
  self->request(front, subscribe_timeout, msg)
    .then(
      [self](bool) {
        // The answer comes from the incarnation itself, not from its front.
        if (auto module = caf::actor_cast<caf::actor>(self->current_sender()))
          self->monitor(module);
      },
      [self](const caf::error& err) {
        spdlog::default_logger()->debug("subscribing again error=\"{}\"",
                                        describe(err));
        self->delayed_send(self, retry_delay, resubscribe_atom::value);
      });
}

caf::behavior keeper(caf::event_based_actor* self, caf::actor front,
                     caf::message msg, caf::actor listener) {
  self->monitor(listener);
  self->set_down_handler([self, listener](const caf::down_msg& down) {
    if (down.source == listener.address())
      self->quit();
    else
      self->send(self, resubscribe_atom::value);
  });
  subscribe(self, front, msg);
  return {
    [self, front, msg](resubscribe_atom) { subscribe(self, front, msg); },
  };
}

} // namespace

void keep_subscribed(caf::actor_system& sys, caf::actor front,
                     caf::message subscribe, caf::actor listener) {
  sys.spawn(keeper, std::move(front), std::move(subscribe),
            std::move(listener));
}

} // namespace conveyor
