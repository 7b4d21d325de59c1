// `rollgate judge`: results and JSON in-process, bad input as one clear line and exit code 2,
// and the same through the built `rollgate` binary.
#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/judge_run.h"
#include "tests/support/reference.h"
#include "tests/support/skip.h"

namespace rollgate::cli {
namespace {

namespace fs = std::filesystem;

// A temporary directory removed with everything in it when the test ends.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "rollgate-judge-XXXXXX").string();
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  std::string write(const std::string& name, const std::string& content) const {
    const fs::path file = path_ / name;
    std::ofstream(file) << content;
    return file.string();
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// latency-1 of shared/reference/stats-cases.json, as files.
std::string numbers(const std::vector<double>& values) {
  std::ostringstream out;
  out.precision(17);
  for (double v : values) out << v << "\n";
  return out.str();
}

struct ReferenceCase {
  std::vector<double> canary;
  std::vector<double> baseline;
  double u;
  double pValue;
};

ReferenceCase latencyCase() {
  const std::string path = rollgate::testing::referenceFile("stats-cases.json");
  std::ifstream in(path);
  REQUIRE_MESSAGE(in.good(), rollgate::testing::missingReferenceMessage(path));
  const auto all = nlohmann::json::parse(in);
  for (const auto& c : all.at("mannwhitney")) {
    if (c.at("name") == "latency-1" && c.at("alternative") == "less") {
      return {c.at("canary").get<std::vector<double>>(),
              c.at("baseline").get<std::vector<double>>(), c.at("u").get<double>(),
              c.at("p_value").get<double>()};
    }
  }
  FAIL("latency-1 not in " << path);
  return {};
}

TEST_CASE("judge mannwhitney: JSON with the test, U, p-value, effects and sizes") {
  const TempDir dir;
  const ReferenceCase ref = latencyCase();
  JudgeMannWhitneyOptions options;
  options.canaryFile = dir.write("canary.txt", numbers(ref.canary));
  options.baselineFile = dir.write("baseline.txt", "\n" + numbers(ref.baseline) + "\n\n");
  options.alternative = "less";
  options.json = true;
  std::ostringstream out;
  std::ostringstream err;
  REQUIRE(runJudgeMannWhitney(options, out, err) == 0);
  CHECK(err.str().empty());
  const auto j = nlohmann::json::parse(out.str());
  CHECK(j.at("test") == "mannwhitney");
  CHECK(j.at("alternative") == "less");
  CHECK(j.at("method") == "asymptotic");
  CHECK(j.at("u").get<double>() == ref.u);
  CHECK(j.at("p_value").get<double>() == doctest::Approx(ref.pValue).epsilon(1e-9));
  CHECK(j.at("canary_n") == ref.canary.size());
  CHECK(j.at("baseline_n") == ref.baseline.size());
  const auto& shift = j.at("effects").at("hodges_lehmann_shift");
  CHECK(shift.at("ci_low").get<double>() <= shift.at("estimate").get<double>());
  CHECK(shift.at("estimate").get<double>() <= shift.at("ci_high").get<double>());
  CHECK(shift.at("estimate").get<double>() < 0.0);  // canary lower, as "less" says
  CHECK(j.at("effects").at("median_ratio").at("estimate").is_number());
}

TEST_CASE("judge fisher: human output and JSON") {
  JudgeFisherOptions options{"31", "1000", "2", "1000"};
  std::ostringstream out;
  std::ostringstream err;
  REQUIRE(runJudgeFisher(options, out, err) == 0);
  const std::string text = out.str();
  CHECK(text.find("Fisher's exact test, alternative greater") != std::string::npos);
  CHECK(text.find("31/1000 errors (3.1%)") != std::string::npos);
  CHECK(text.find("rate ratio (canary / baseline): 15.5  95% CI [3.72") != std::string::npos);

  options.json = true;
  options.alternative = "two-sided";
  std::ostringstream jsonOut;
  REQUIRE(runJudgeFisher(options, jsonOut, err) == 0);
  const auto j = nlohmann::json::parse(jsonOut.str());
  CHECK(j.at("test") == "fisher");
  CHECK(j.at("alternative") == "two-sided");
  CHECK(j.at("p_value").get<double>() > 0.0);
  CHECK(j.at("p_value").get<double>() < 1e-6);
  CHECK(j.at("canary_total") == 1000);
  CHECK(j.at("baseline_errors") == 2);
  CHECK(j.at("effects").at("rate_difference").at("estimate").get<double>() ==
        doctest::Approx(0.029));
  CHECK(j.at("effects").at("rate_ratio").at("ci_low").get<double>() > 1.0);

  // No errors anywhere: the ratio does not exist and JSON says null.
  JudgeFisherOptions none{"0", "500", "0", "500"};
  none.json = true;
  std::ostringstream noneOut;
  REQUIRE(runJudgeFisher(none, noneOut, err) == 0);
  const auto k = nlohmann::json::parse(noneOut.str());
  CHECK(k.at("p_value").get<double>() == 1.0);
  CHECK(k.at("effects").at("rate_ratio").at("estimate").is_null());
}

TEST_CASE("judge: bad input is one line naming the value, and exit code 2") {
  const TempDir dir;
  const std::string good = dir.write("good.txt", "1\n2\n3\n");
  struct Case {
    JudgeMannWhitneyOptions options;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{dir.write("words.txt", "1\n2\nabc\n"), good},
       "rollgate judge: canary file '" + (dir.path() / "words.txt").string() +
           "' line 3: 'abc' is not a number\n"},
      {{good, dir.write("empty.txt", "")},
       "rollgate judge: baseline file '" + (dir.path() / "empty.txt").string() +
           "': no numbers (the file is empty)\n"},
      {{good, dir.write("nan.txt", "1\nnan\n")},
       "rollgate judge: baseline file '" + (dir.path() / "nan.txt").string() +
           "' line 2: 'nan' is not a finite number\n"},
      {{(dir.path() / "missing.txt").string(), good},
       "rollgate judge: canary file '" + (dir.path() / "missing.txt").string() +
           "': cannot open: No such file or directory\n"},
      {{good, good, "bigger"},
       "rollgate judge: --alternative 'bigger': expected one of two-sided, greater, less\n"},
  };
  for (const Case& c : cases) {
    std::ostringstream out;
    std::ostringstream err;
    CHECK(runJudgeMannWhitney(c.options, out, err) == kExitUsage);
    CHECK(err.str() == c.message);
    CHECK(out.str().empty());
  }
  const std::vector<std::pair<JudgeFisherOptions, std::string>> fisherCases = {
      {{"11", "10", "0", "10"}, "rollgate judge: --canary-errors 11 exceeds --canary-total 10\n"},
      {{"1", "10", "12", "11"},
       "rollgate judge: --baseline-errors 12 exceeds --baseline-total 11\n"},
      {{"x", "10", "0", "10"},
       "rollgate judge: --canary-errors 'x': expected a non-negative integer\n"},
      {{"1", "-10", "0", "10"},
       "rollgate judge: --canary-total '-10': expected a non-negative integer\n"},
      {{"0", "10", "0", "0"}, "rollgate judge: --baseline-total 0: must be at least 1\n"},
  };
  for (const auto& [options, message] : fisherCases) {
    std::ostringstream out;
    std::ostringstream err;
    CHECK(runJudgeFisher(options, out, err) == kExitUsage);
    CHECK(err.str() == message);
  }
}

TEST_CASE("judge command: CLI11 wiring parses flags and turns bad input into exit code 2") {
  const TempDir dir;
  const std::string canary = dir.write("c.txt", "5\n6\n7\n8\n");
  const std::string baseline = dir.write("b.txt", "1\n2\n3\n4\n");
  CLI::App app;
  addJudgeCommand(app);
  std::ostringstream captured;
  std::streambuf* original = std::cout.rdbuf(captured.rdbuf());
  try {
    app.parse("judge mannwhitney --canary " + canary + " --baseline " + baseline + " --json",
              false);
  } catch (...) {
    std::cout.rdbuf(original);
    throw;
  }
  std::cout.rdbuf(original);
  const auto j = nlohmann::json::parse(captured.str());
  CHECK(j.at("u") == 16.0);
  CHECK(j.at("method") == "exact");
  CHECK(j.at("p_value").get<double>() == doctest::Approx(1.0 / 70.0));  // 1 of C(8,4) orders

  CLI::App bad;
  addJudgeCommand(bad);
  int code = 0;
  try {
    bad.parse(
        "judge fisher --canary-errors 9 --canary-total 5 --baseline-errors 0 "
        "--baseline-total 0",
        false);
  } catch (const CLI::RuntimeError& e) {
    code = e.get_exit_code();
  }
  CHECK(code == kExitUsage);
}

// Runs the binary with arguments; returns exit code, stdout and stderr.
struct Run {
  int code = -1;
  std::string out;
  std::string err;
};

Run run(const std::string& binary, const std::vector<std::string>& args, const TempDir& dir) {
  const std::string outPath = (dir.path() / "stdout").string();
  const std::string errPath = (dir.path() / "stderr").string();
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    std::FILE* out = std::freopen(outPath.c_str(), "w", stdout);
    std::FILE* err = std::freopen(errPath.c_str(), "w", stderr);
    if (out == nullptr || err == nullptr) ::_exit(127);
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(binary.c_str()));
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(binary.c_str(), argv.data());
    ::_exit(127);
  }
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  Run result;
  result.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream o(outPath);
  std::ifstream e(errPath);
  result.out.assign(std::istreambuf_iterator<char>(o), {});
  result.err.assign(std::istreambuf_iterator<char>(e), {});
  return result;
}

TEST_CASE("rollgate judge end to end through the built binary" * doctest::test_suite("integration")) {
  const char* binDir = std::getenv("ROLLGATE_BIN_DIR");
  const std::string binary =
      std::string(binDir != nullptr ? binDir : ROLLGATE_BINARY_DIR "/bin") + "/rollgate";
  if (!rollgate::testing::requireOrSkip(fs::exists(binary) ? "" : binary + " (build `rollgate`)")) {
    return;
  }
  const TempDir dir;
  const ReferenceCase ref = latencyCase();
  const std::string canary = dir.write("canary.txt", numbers(ref.canary));
  const std::string baseline = dir.write("baseline.txt", numbers(ref.baseline));

  const Run mw = run(binary,
                     {"judge", "mannwhitney", "--canary", canary, "--baseline", baseline,
                      "--alternative", "less", "--json"},
                     dir);
  INFO("stderr: " << mw.err);
  REQUIRE(mw.code == 0);
  const auto j = nlohmann::json::parse(mw.out);
  CHECK(j.at("u").get<double>() == ref.u);
  CHECK(j.at("p_value").get<double>() == doctest::Approx(ref.pValue).epsilon(1e-9));

  const Run human = run(binary,
                        {"judge", "fisher", "--canary-errors", "31", "--canary-total", "1000",
                         "--baseline-errors", "2", "--baseline-total", "1000"},
                        dir);
  REQUIRE(human.code == 0);
  CHECK(human.out.find("p = ") != std::string::npos);

  const Run bad = run(binary,
                      {"judge", "fisher", "--canary-errors", "31", "--canary-total", "30",
                       "--baseline-errors", "2", "--baseline-total", "1000"},
                      dir);
  CHECK(bad.code == kExitUsage);
  CHECK(bad.err == "rollgate judge: --canary-errors 31 exceeds --canary-total 30\n");
  CHECK(bad.out.empty());

  const Run empty =
      run(binary,
          {"judge", "mannwhitney", "--canary", dir.write("empty.txt", ""), "--baseline", baseline},
          dir);
  CHECK(empty.code == kExitUsage);
  CHECK(empty.err.find("no numbers") != std::string::npos);
}

}  // namespace
}  // namespace rollgate::cli
