/**
 * Agent activity: whether the AI agent in a project's pane waits on a prompt,
 * on a usage limit, or makes no progress, and what that holds. Pure: panes
 * arrive as captured text, `now` is an argument, memories are plain data the
 * caller keeps. See docs/agent-detection.md.
 */
export {
  AGENT_ACTIVITY_KINDS,
  AgentPatternError,
  agentPatternProblem,
  compileCatalogue,
  configuredCatalogue,
  detectAgentActivity,
  matchCatalogue,
  type AgentActivityKind,
  type AgentPattern,
  type CompiledCatalogue,
  type PaneMatch,
} from './catalogue.js';
export {
  cleanLine,
  paneTail,
  PANE_TAIL_LIMITS,
  reasonOf,
  stripTerminalCodes,
  type PaneTailLimits,
} from './pane-text.js';
export { isKnownTimeZone, parseResetTime, type ResetTimeOptions } from './reset-time.js';
export { isNoProgress, paneSignature, trackProgress, type PaneProgress } from './progress.js';
export {
  NO_ACTIVITY_MEMORY,
  observeAgentActivity,
  pauseEnd,
  pausedBy,
  readPane,
  type ActivitySettings,
  type AgentActivityMemory,
  type Observation,
  type PaneReading,
  type TrackedFinding,
} from './tracker.js';
export {
  activeLimit,
  activityFinding,
  launchHolds,
  mayLaunch,
  RATE_LIMIT_SCOPES,
  timeoutClock,
  type ActivityFinding,
  type HoldSettings,
  type LaunchHold,
  type LaunchHolds,
  type RateLimitScope,
} from './hold.js';
export { memoryOf, recordOf } from './record.js';
export {
  CREDIT_PAUSED,
  hostLaunchHolds,
  limitedFailure,
  needsCapture,
  observeActivity,
  readSession,
  SOURCE_AGENT,
  sourceMatch,
  type ActivityObservation,
  type ObserveSettings,
  type PaneReadState,
  type PaneReadStates,
  type ProjectObservation,
} from './observe.js';
