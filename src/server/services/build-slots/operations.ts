import { acquireBuildSlot, releaseBuildSlot, renewBuildSlot } from "./slots";

// Build slots: exclusive or shared leases on named resources such as a build or a test run.
export const buildSlotOperations = { acquireBuildSlot, renewBuildSlot, releaseBuildSlot } as const;
