#pragma once

#include <vector>

#include <caf/type_id.hpp>

#include "messages/build.hpp"
#include "messages/build_request.hpp"
#include "messages/gatekeeper.hpp"
#include "messages/job.hpp"
#include "messages/log.hpp"
#include "messages/log_sequencer.hpp"
#include "messages/metrics.hpp"
#include "messages/scheduler.hpp"
#include "messages/store.hpp"
#include "messages/supervision.hpp"
#include "messages/webhook.hpp"
#include "messages/worker.hpp"

namespace caf {
class actor_system_config;
} // namespace caf

/// The one type-id block of conveyor: every type that travels in a message.
CAF_BEGIN_TYPE_ID_BLOCK(conveyor, caf::first_custom_type_id)

  CAF_ADD_TYPE_ID(conveyor, (conveyor::build_request))
  CAF_ADD_TYPE_ID(conveyor, (conveyor::build_record))
  CAF_ADD_TYPE_ID(conveyor, (conveyor::build_state_changed))
  CAF_ADD_TYPE_ID(conveyor, (conveyor::job_spec))
  CAF_ADD_TYPE_ID(conveyor, (conveyor::job_state_changed))
  CAF_ADD_TYPE_ID(conveyor, (conveyor::log_part))
  CAF_ADD_TYPE_ID(conveyor, (conveyor::log_completed))
  CAF_ADD_TYPE_ID(conveyor, (std::vector<conveyor::log_part>))
  CAF_ADD_TYPE_ID(conveyor, (conveyor::build_query))
  CAF_ADD_TYPE_ID(conveyor, (conveyor::job_requeue))
  CAF_ADD_TYPE_ID(conveyor, (conveyor::job_record))
  CAF_ADD_TYPE_ID(conveyor, (std::vector<conveyor::build_record>))
  CAF_ADD_TYPE_ID(conveyor, (conveyor::metric_families))
  CAF_ADD_TYPE_ID(conveyor, (conveyor::scheduler_status))
  CAF_ADD_TYPE_ID(conveyor, (conveyor::store_actor))
  CAF_ADD_TYPE_ID(conveyor, (conveyor::worker_actor))
  CAF_ADD_TYPE_ID(conveyor, (conveyor::scheduler_actor))
  CAF_ADD_TYPE_ID(conveyor, (conveyor::gatekeeper_actor))
  CAF_ADD_TYPE_ID(conveyor, (conveyor::log_sequencer_actor))
  CAF_ADD_TYPE_ID(conveyor, (conveyor::log_listener_actor))
  CAF_ADD_TYPE_ID(conveyor, (conveyor::build_listener_actor))
  CAF_ADD_TYPE_ID(conveyor, (conveyor::supervised_child))
  CAF_ADD_TYPE_ID(conveyor, (conveyor::supervision_report))
  CAF_ADD_TYPE_ID(conveyor, (conveyor::worker_status))
  CAF_ADD_TYPE_ID(conveyor, (std::vector<conveyor::log_progress>))
  CAF_ADD_TYPE_ID(conveyor, (conveyor::webhook_delivery))
  CAF_ADD_TYPE_ID(conveyor, (std::vector<conveyor::webhook_delivery>))

CAF_END_TYPE_ID_BLOCK(conveyor)

namespace conveyor {

/// Registers the type-id block and the "conveyor" error category with `cfg`.
/// Every actor system that runs conveyor actors calls it before it starts.
void register_message_types(caf::actor_system_config& cfg);

} // namespace conveyor
