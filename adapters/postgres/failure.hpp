#pragma once

#include <stdexcept>

namespace conveyor::postgres {

/// A broken expectation about stored data or a request the PostgreSQL store
/// cannot store (e.g. a key that is not text); `what()` holds the detail.
/// Thrown inside the adapter, turned into `errc::store_failure` at its
/// boundary.
class failure : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

} // namespace conveyor::postgres
