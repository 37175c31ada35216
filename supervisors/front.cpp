#include "supervisors/front.hpp"

#include <deque>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/mailbox_element.hpp>
#include <caf/stateful_actor.hpp>
#include <spdlog/spdlog.h>

#include "messages/error.hpp"

namespace conveyor {

namespace {

/// Beyond this many held messages, new ones are refused (requests get an
/// error): a module that does not come back must not exhaust memory.
constexpr size_t max_held = 1'000'000;

struct held_message {
  caf::strong_actor_ptr sender;
  caf::message_id mid;
  caf::mailbox_element::forwarding_stack stages;
  caf::message content;
};

struct front_state;

using front_ptr = caf::stateful_actor<front_state>*;

void refuse(front_ptr self, held_message& x, const std::string& why);

struct front_state {
  static inline const char* name = "front";

  front_ptr self = nullptr;
  std::string module;
  caf::actor target;
  std::deque<held_message> held;

  front_state() = default;
  front_state(const front_state&) = delete;
  front_state& operator=(const front_state&) = delete;

  // Runs as the front exits: nobody waits in vain for an answer.
  ~front_state() {
    for (auto& x : held)
      refuse(self, x, module + " is not running");
  }
};

void refuse(front_ptr self, held_message& x, const std::string& why) {
  if (!x.mid.is_request() || !x.sender)
    return;
  x.sender->enqueue(caf::make_mailbox_element(
                      self->ctrl(), x.mid.response_id(), {},
                      caf::make_message(make_error(errc::unavailable, why))),
                    self->context());
}

void forward(front_ptr self, held_message&& x) {
  self->state.target->enqueue(caf::make_mailbox_element(std::move(x.sender),
                                                        x.mid,
                                                        std::move(x.stages),
                                                        std::move(x.content)),
                              self->context());
}

caf::behavior front(front_ptr self, std::string module) {
  self->state.self = self;
  self->state.module = std::move(module);
  self->set_default_handler(
    [self](caf::scheduled_actor*,
           caf::message_view& view) -> caf::result<caf::message> {
      auto& st = self->state;
      auto* element = self->current_mailbox_element();
      held_message x{std::move(element->sender), element->mid,
                     std::move(element->stages),
                     view.move_content_to_message()};
      // Taken over: CAF must not answer the request itself.
      element->mid.mark_as_answered();
      if (st.target)
        forward(self, std::move(x));
      else if (st.held.size() < max_held)
        st.held.push_back(std::move(x));
      else
        refuse(self, x, st.module + " is restarting and has too much waiting");
      return caf::delegated<caf::message>{};
    });
  self->set_down_handler([self](const caf::down_msg& msg) {
    auto& st = self->state;
    if (st.target && st.target.address() == msg.source)
      st.target = caf::actor{};
  });
  return {
    [self](front_target_atom, caf::actor& target) {
      auto& st = self->state;
      if (st.target)
        self->demonitor(st.target);
      st.target = std::move(target);
      if (!st.target)
        return;
      self->monitor(st.target);
      if (!st.held.empty())
        spdlog::default_logger()->debug("front module={} delivering held={}",
                                        st.module, st.held.size());
      while (!st.held.empty()) {
        forward(self, std::move(st.held.front()));
        st.held.pop_front();
      }
    },
  };
}

} // namespace

caf::actor spawn_front(caf::actor_system& sys, std::string name) {
  return sys.spawn(front, std::move(name));
}

} // namespace conveyor
