#include "common/stats/normal.h"

#include <boost/math/special_functions/erf.hpp>
#include <cmath>
#include <numbers>

#include "common/check.h"

namespace rollgate::stats {

double normalSf(double z) { return 0.5 * std::erfc(z / std::numbers::sqrt2); }

double normalCdf(double z) { return 0.5 * std::erfc(-z / std::numbers::sqrt2); }

double normalPdf(double z) { return std::exp(-0.5 * z * z) / std::sqrt(2.0 * std::numbers::pi); }

double normalUpperQuantile(double upperTail) {
  ROLLGATE_CHECK(upperTail > 0.0 && upperTail < 1.0, "upperTail = ", upperTail);
  return std::numbers::sqrt2 * boost::math::erfc_inv(2.0 * upperTail);
}

}  // namespace rollgate::stats
