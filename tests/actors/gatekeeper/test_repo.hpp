#pragma once

#include <string>

/// A real git repository in a fresh temporary directory, driven with the git
/// CLI; removed when the object dies.
class test_repo {
public:
  test_repo();
  ~test_repo();

  test_repo(const test_repo&) = delete;
  test_repo& operator=(const test_repo&) = delete;

  /// The repository's working copy.
  const std::string& path() const {
    return path_;
  }

  /// The temporary directory that holds the working copy.
  const std::string& root() const {
    return root_;
  }

  /// Writes `content` to `file` in the working copy.
  void write(const std::string& file, const std::string& content) const;

  /// Runs `git <args>` in the working copy; fails the test if it fails.
  void git(const std::string& args) const;

  /// Runs `git <args>` in the working copy and returns its trimmed output.
  std::string output(const std::string& args) const;

  /// Stages everything and commits with `message`; returns the full sha.
  std::string commit(const std::string& message) const;

private:
  std::string root_;
  std::string path_;
};
