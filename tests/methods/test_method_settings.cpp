// The methods' settings as declared (xai/method_settings.hpp): the value checks against closed cases,
// and every declaration against the rest of the library — its group read by some method, its example a
// value it accepts that lands in the field its default is read from, keys and flags unique.
#include <gtest/gtest.h>

#include <set>

#include "test_helpers.hpp"
#include "xai/error.hpp"
#include "xai/method_settings.hpp"

namespace xai {
namespace {

using Type = ValueSpec::Type;

TEST(MethodSettings, IntegersAreWholeNumbersWithinTheirBounds) {
  const ValueSpec at_least_two{Type::integer, 2, 2147483647};
  EXPECT_EQ(check_value(at_least_two, "2"), "");
  EXPECT_EQ(check_value(at_least_two, "2147483647"), "");
  EXPECT_EQ(check_value(at_least_two, "1"), "expected an integer >= 2, got '1'");
  for (const char* bad : {"", "x", "2.5", " 3", "3 ", "0x10", "-5"})
    EXPECT_NE(check_value(at_least_two, bad), "") << "'" << bad << "' accepted";
  EXPECT_EQ(check_value(at_least_two, "2147483648"), "expected an integer >= 2, got '2147483648' (too large)");
  const ValueSpec count_or_auto{Type::integer, 1, 2147483647, false, false, {"auto"}};
  EXPECT_EQ(check_value(count_or_auto, "auto"), "");
  EXPECT_EQ(check_value(count_or_auto, "0"), "expected an integer >= 1 or auto, got '0'");
}

TEST(MethodSettings, RealsAreFiniteAndRespectOpenAndClosedEnds) {
  const ValueSpec open{Type::real, 0, 1, true, true};
  EXPECT_EQ(check_value(open, "0.5"), "");
  EXPECT_EQ(check_value(open, "0"), "expected a finite number in (0, 1), got '0'");
  EXPECT_NE(check_value(open, "1"), "");
  const ValueSpec closed{Type::real, 0, 1};
  EXPECT_EQ(check_value(closed, "0"), "");
  EXPECT_EQ(check_value(closed, "1"), "");
  EXPECT_EQ(check_value(closed, "1.0001"), "expected a finite number in [0, 1], got '1.0001'");
  for (const char* bad : {"nan", "inf", "-inf", "", "0.5x"}) EXPECT_NE(check_value(closed, bad), "") << bad;
  EXPECT_EQ(check_value({Type::real, 0, INFINITY, true}, "0"), "expected a finite number > 0, got '0'");
}

TEST(MethodSettings, SeedsAreTheFullUnsignedRangeAndNothingElse) {
  const ValueSpec seed{Type::seed};
  EXPECT_EQ(check_value(seed, "0"), "");
  EXPECT_EQ(check_value(seed, "18446744073709551615"), "");
  for (const char* bad : {"18446744073709551616", "-1", "+1", "1e3", ""}) EXPECT_NE(check_value(seed, bad), "") << bad;
}

TEST(MethodSettings, WordsAreOneOfTheirList) {
  const ValueSpec words{Type::text, -INFINITY, INFINITY, false, false, {"axes", "superpixels"}};
  EXPECT_EQ(check_value(words, "axes"), "");
  EXPECT_EQ(check_value(words, "Axes"), "expected axes or superpixels, got 'Axes'");
  EXPECT_EQ(check_value({Type::text}, "anything at all"), "") << "free text is parsed when applied";
  EXPECT_EQ(value_name(words), "axes|superpixels");
  EXPECT_EQ(value_name({Type::integer, 2, 2147483647}), "INT:>=2");
  EXPECT_EQ(value_name({Type::real, 0, 1, true}), "REAL:(0,1]");
}

TEST(MethodSettings, EveryDeclarationIsComplete) {
  std::set<std::string> keys, flags;
  for (const SettingDeclaration& setting : method_settings()) {
    SCOPED_TRACE(setting.key);
    EXPECT_TRUE(keys.insert(setting.key).second) << "key declared twice";
    const std::string flag = setting.long_flag();
    EXPECT_EQ(flag.rfind("--", 0), 0u) << setting.flag;
    EXPECT_TRUE(flags.insert(flag).second) << "flag declared twice";
    EXPECT_FALSE(setting.help.empty());
    EXPECT_TRUE(setting.apply && setting.default_text);
    // A setting no method reads could never apply: every command would refuse it.
    EXPECT_FALSE(method_names_where([&](const ExplanationMethod& m) { return m.reads(setting.group); }).empty());
    for (const auto& value : setting.example) EXPECT_EQ(check_value(setting.value, value), "") << value;
    const std::string shown = setting.default_text(ExplainOptions{});
    if (!shown.empty()) EXPECT_EQ(check_value(setting.value, shown), "") << "its own default is refused: " << shown;
    for (const auto& key : setting.excludes) EXPECT_EQ(keys.count(key), 1u) << "excludes " << key << ", declared after it";
  }
  EXPECT_EQ(&method_setting("samples"), &method_settings()[std::distance(
                                            method_settings().begin(),
                                            std::find_if(method_settings().begin(), method_settings().end(),
                                                         [](const auto& s) { return s.key == "samples"; }))]);
  EXPECT_THROW(method_setting("no_such_setting"), std::out_of_range);
}

// A setting's example, applied, is what its default is read from: --help's "(default X)" and the value
// a user gives are the same field.
TEST(MethodSettings, AnExampleLandsWhereTheDefaultIsRead) {
  Model model = Model::load(test::model_path("tiny-scripted.pt"));
  int checked = 0;
  for (const SettingDeclaration& setting : method_settings()) {
    SCOPED_TRACE(setting.key);
    ExplainOptions options;
    const std::string before = setting.default_text(options);
    ASSERT_NO_THROW(setting.apply(setting.example, options, model));
    if (before.empty()) continue;
    ASSERT_EQ(setting.example.size(), 1u);
    EXPECT_NE(before, setting.example.front()) << "the example is the default: it would change nothing";
    EXPECT_EQ(setting.default_text(options), setting.example.front());
    ++checked;
  }
  EXPECT_GT(checked, 15);
}

TEST(MethodSettings, AppliedValuesReachTheOptionsEveryReaderReads) {
  Model model = Model::load(test::model_path("tiny-scripted.pt"));
  ExplainOptions options;
  method_setting("samples").apply({"40"}, options, model);
  EXPECT_EQ(options.lime.samples, 40);
  EXPECT_EQ(options.shap.samples, 40);
  EXPECT_EQ(options.gradients.samples, 40);
  method_setting("samples").apply({"auto"}, options, model);
  EXPECT_TRUE(options.lime.adaptive.enabled);
  // --hide-color before or after --hide: the colour stays.
  method_setting("hide_color").apply({"0.1", "0.2", "0.3"}, options, model);
  method_setting("hide").apply({"constant"}, options, model);
  EXPECT_EQ(options.lime.hide.mode, HideMode::constant);
  EXPECT_EQ(options.lime.hide.color, (std::vector<float>{0.1f, 0.2f, 0.3f}));
  method_setting("target_class").apply({model.labels().back()}, options, model);
  EXPECT_EQ(options.cam.target.kind, TargetSpec::Kind::given);
  EXPECT_EQ(options.cam.target.class_index, static_cast<int>(model.labels().size()) - 1);
  method_setting("layer").apply({"layer1"}, options, model);
  method_setting("layer_set").apply({"auto-all"}, options, model);
  const std::vector<std::string> stages = model.stage_layers();
  ASSERT_FALSE(stages.empty());
  EXPECT_EQ(options.cam.layers.front(), "layer1");
  for (const auto& stage : stages)
    EXPECT_EQ(std::count(options.cam.layers.begin(), options.cam.layers.end(), stage), 1) << stage;
  try {
    method_setting("target_class").apply({"no-such-class"}, options, model);
    ADD_FAILURE() << "an unknown class accepted";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).rfind("target_class no-such-class", 0), 0u) << e.what();
  }
  try {
    method_setting("targets").apply({"above:1.5"}, options, model);
    ADD_FAILURE() << "above:1.5 accepted";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).rfind("targets above:1.5", 0), 0u) << e.what();
  }
}

}  // namespace
}  // namespace xai
