#include <gtest/gtest.h>

#include "stylize/core/loss_scale.hpp"

namespace stylize {
namespace {

TEST(LossScale, StartsAtTorchAmpsScale) { EXPECT_EQ(DynamicLossScale().scale(), 65536.0); }

TEST(LossScale, HalvesOnOverflowAndRetries) {
  DynamicLossScale scale;
  EXPECT_EQ(scale.update(false), LossScaleVerdict::Retry);
  EXPECT_EQ(scale.scale(), 32768.0);
  EXPECT_EQ(scale.update(false), LossScaleVerdict::Retry);
  EXPECT_EQ(scale.scale(), 16384.0);
}

TEST(LossScale, GrowsBackAfter2000GoodSteps) {
  DynamicLossScale scale;
  scale.update(false);  // 32768
  for (int i = 1; i < 2000; ++i) ASSERT_EQ(scale.update(true), LossScaleVerdict::Apply);
  EXPECT_EQ(scale.scale(), 32768.0);  // 1999 good steps: not yet
  EXPECT_EQ(scale.update(true), LossScaleVerdict::Apply);
  EXPECT_EQ(scale.scale(), 65536.0);
  EXPECT_EQ(scale.good_steps(), 0);
  for (int i = 0; i < 2000; ++i) scale.update(true);
  EXPECT_EQ(scale.scale(), 131072.0);  // it keeps growing, as torch.cuda.amp's
}

TEST(LossScale, AnOverflowRestartsTheCount) {
  DynamicLossScale scale;
  for (int i = 0; i < 1500; ++i) scale.update(true);
  scale.update(false);  // 32768, count back to zero
  for (int i = 0; i < 1999; ++i) scale.update(true);
  EXPECT_EQ(scale.scale(), 32768.0);
  scale.update(true);
  EXPECT_EQ(scale.scale(), 65536.0);
}

TEST(LossScale, GivesUpWhenTheSmallestScaleOverflows) {
  DynamicLossScale scale;
  int retries = 0;
  while (scale.update(false) == LossScaleVerdict::Retry) ++retries;
  EXPECT_EQ(retries, 16);  // 2^16 down to 1
  EXPECT_EQ(scale.scale(), 1.0);
  EXPECT_EQ(scale.update(false), LossScaleVerdict::GiveUp);
}

TEST(LossScale, DisabledNeverScales) {
  DynamicLossScale scale = DynamicLossScale::disabled();
  EXPECT_EQ(scale.scale(), 1.0);
  for (int i = 0; i < 5000; ++i) scale.update(true);
  EXPECT_EQ(scale.scale(), 1.0);
  EXPECT_EQ(scale.update(false), LossScaleVerdict::GiveUp);
}

}  // namespace
}  // namespace stylize
