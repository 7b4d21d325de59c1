// Reference data for tests (SciPy's statistics cases, public access logs) is not in this
// repository: it lives in `shared/reference/` BESIDE the checkout (<checkout>/../shared/reference),
// or wherever $ROLLGATE_REFERENCE_DIR points. Tests name their files through referenceFile() and
// say where the file comes from when it is missing, so a newcomer knows what to fetch.
// Thread-safety: pure functions.
#pragma once

#include <string>

namespace rollgate::testing {

// $ROLLGATE_REFERENCE_DIR/<name> when that is set, else <source dir>/../shared/reference/<name>.
std::string referenceFile(const std::string& name);

// "cannot open <path>: reference data comes from ../shared/reference beside the checkout ..."
std::string missingReferenceMessage(const std::string& path);

}  // namespace rollgate::testing
