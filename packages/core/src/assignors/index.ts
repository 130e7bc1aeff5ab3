// Assignment step (public surface): the consumer-group assignment strategies and the tools to check and simulate them.

export type {
  Assignor,
  GroupMember,
  PartitionMove,
  PlanRebalanceOptions,
  RebalanceChange,
  RebalancePlan,
  TopicPartition,
} from './types';
export { rangeAssignor } from './range';
export { roundRobinAssignor } from './round-robin';
export { stickyAssignor } from './sticky';
export { validateAssignment } from './validate';
export { planRebalance } from './plan';
