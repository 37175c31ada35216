#pragma once

#include <filesystem>

namespace conveyor {

/// Removes `dir` and everything in it, even parts a build left without write
/// or search permission (some test suites do); errors are ignored; check with
/// `exists` afterwards if it matters.
void remove_tree(const std::filesystem::path& dir);

} // namespace conveyor
