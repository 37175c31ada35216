#pragma once

// The gatekeeper's ports to a code host's API: reading build config files
// without a clone, and the token a mirror fetch authenticates with. Plain
// functions, so that the gatekeeper knows no adapter; app/ wires them to the
// GitHub client.

#include <functional>
#include <string>

namespace conveyor {

/// What to read through a `remote_file_reader`.
struct remote_file_query {
  std::string repo;       ///< the clone URL the request names
  std::string slug;       ///< owner/name
  std::string path;       ///< e.g. ".travis.yml"
  std::string sha;        ///< the full commit sha
  std::string request_id; ///< for the adapter's log lines
};

/// What a `remote_file_reader` found.
enum class remote_file_status {
  found,      ///< `content` holds the file
  missing,    ///< no such file at that commit
  failed,     ///< the host did not answer usefully; see `error`
  not_served, ///< the reader does not serve this repository: read the mirror
};

/// The answer of a `remote_file_reader`.
struct remote_file {
  remote_file_status status = remote_file_status::not_served;
  std::string content; ///< when `found`
  std::string error;   ///< when `failed`: why, without any secret
};

/// Reads one file of a repository at a commit through a code host's API
/// (e.g. GitHub's contents API). Blocks for as long as its retries take; the
/// gatekeeper calls it from its own thread.
using remote_file_reader = std::function<remote_file(const remote_file_query&)>;

/// The token to fetch the repository at `url` with (sent by libgit2 as the
/// password of user `x-access-token`); empty for none. May block.
using fetch_token_provider = std::function<std::string(const std::string& url)>;

} // namespace conveyor
