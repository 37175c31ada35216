#pragma once

// Whether a request is built at all, as Travis CI decides it (travis-core's
// `Request::Approval`, `Request::Branches` and `CommitCommand`, and the
// build-level `if:`): `[ci skip]` in the commit message, the gh-pages
// branch, `branches: only/except`, and the config's `if:`. Pure.

#include <string>
#include <string_view>

#include "actors/gatekeeper/config_node.hpp"
#include "messages/build_request.hpp"

namespace conveyor {

// -- rules --------------------------------------------------------------------

/// True if `message` asks not to build the commit: it contains `[skip ci]`
/// (any case, any blanks between the words), or its first `[ci <command>]`
/// or `[ci:<command>]` has the command `skip` (any case).
bool skips_ci(std::string_view message);

/// travis-core's `Branches#included?`: true if `branches` (a branches
/// section, a map) has no `only` (or a null one), or `branch` matches one of
/// its entries. A string value is split on commas, each part stripped; a
/// list is used as given. An entry `/re/` is a Ruby regular expression
/// matched anywhere in the branch name; any other must equal it.
bool branch_included(const config_node& branches, std::string_view branch);

/// travis-core's `Branches#excluded?`: true if `branches` has an `except`
/// and `branch` matches one of its entries (matched as for `only`).
bool branch_excluded(const config_node& branches, std::string_view branch);

/// True if `branch` is a GitHub Pages branch (`gh-pages`, `gh_pages`, any
/// case, anywhere in the name), which is only built if `branches.only`
/// names such a branch.
bool is_github_pages(std::string_view branch);

// -- requests -----------------------------------------------------------------

/// What conditions see of a request: `type` (the event), `repo`, `branch`
/// (the tag for a tag build, the base branch for a pull request), `tag`,
/// `commit_message`, `sender`, and for pull requests `head_repo`,
/// `head_branch` and `fork`. Empty fields are left out.
config_node request_data(const build_request& req);

/// The verdict on a request.
struct approval {
  bool accepted = true;
  /// Why not: `ci_skip`, `github_pages`, `branch_not_included`,
  /// `branch_excluded` or `build_condition`; empty if accepted.
  std::string code;
  /// The reason as a sentence for the user; empty if accepted.
  std::string reason;
};

/// Applies the rules above, in Travis's order, to a request for a
/// normalized config (see travis_config.hpp; null if there is none, which
/// leaves only the `[ci skip]` rule).
approval approve_request(const build_request& req, const config_node& config);

} // namespace conveyor
