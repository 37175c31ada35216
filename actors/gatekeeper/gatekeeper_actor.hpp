#pragma once

#include <chrono>
#include <filesystem>

#include <caf/fwd.hpp>

#include "actors/gatekeeper/config_source.hpp"
#include "messages/gatekeeper.hpp"
#include "messages/job.hpp"
#include "messages/scheduler.hpp"
#include "messages/store.hpp"

namespace conveyor {

/// Settings of the gatekeeper.
struct gatekeeper_config {
  /// The limits every job of a build gets.
  job_limits limits;
  /// How long the gatekeeper waits for the store to persist a build; zero
  /// waits forever.
  std::chrono::milliseconds store_timeout = std::chrono::seconds(30);
  /// Where the bare mirrors of repositories given as URLs live, one directory
  /// per URL (created on first use). Empty: URLs are refused with
  /// `errc::unknown_repository`; local paths work either way.
  std::filesystem::path mirror_root;
  /// Reads build configs through a code host's API (GitHub's contents API),
  /// for requests that name a URL, a slug and a sha and whose repository the
  /// reader serves: no mirror is fetched to plan them. Empty: always read
  /// the repository or its mirror.
  remote_file_reader remote_files;
  /// The token mirror fetches send when a server asks for credentials (a
  /// private repository); empty: none.
  fetch_token_provider fetch_tokens;
};

/// Spawns the gatekeeper (detached: it reads repositories from disk).
///
/// For each `build_request` it resolves the commit in the local repository
/// or, for a URL, in its mirror under `cfg.mirror_root`, fetched first (the
/// actor blocks meanwhile, on its own thread), reads `.conveyor.yml` (else
/// `.travis.yml`) at that commit, expands the job matrix and asks `store` to
/// persist the build (an errored one if the config is missing or invalid,
/// with the findings in `messages`). Once stored, a build that is not errored
/// is sent to `scheduler` (`enqueue_atom`). Answers the stored build;
/// `errc::unknown_repository` or `errc::unknown_ref` when the repository or
/// the commit cannot be found (or the mirror not fetched), the store's error
/// when it fails. Keeps up to 64 repositories open (`repository_cache`) and
/// up to 256 planned configs by blob id (`plan_cache`) between requests.
///
/// With `cfg.remote_files`, a request with a URL, a slug and a sha (a
/// webhook's) whose repository the reader serves is planned from the files
/// it reads instead (`.conveyor.yml`, else `.travis.yml`): both missing gives
/// the errored "no config" build, naming the repository, the commit and the
/// files tried; a failed read gives an errored build whose message starts
/// with "could not fetch config from GitHub: ". Either way the build is
/// stored, never lost.
gatekeeper_actor spawn_gatekeeper(caf::actor_system& sys, gatekeeper_config cfg,
                                  store_actor store, scheduler_actor scheduler);

} // namespace conveyor
