/**
 * The library entry of tmux-orchestrator-agent: the pure core (types, state
 * machine, policy) and the configuration table. The OS adapters, the CLI, the
 * daemon and the server sit behind their own modules.
 */
export * from './core/model/project.js';
export * from './core/model/registry-document.js';
export * from './core/model/snapshot.js';
export * from './core/model/plan.js';
export {
  TRANSITIONS,
  canTransition,
  transition,
  IllegalTransitionError,
  type TransitionOptions,
  type TransitionResult,
} from './core/rules/state-machine.js';
export { reconcile, evidenceCandidates, type ReconcileInput } from './core/rules/reconcile.js';
export { decideCompletion, type EvidenceReport, type CompletionVerdict } from './core/rules/completion.js';
export { guard } from './core/guard/guard.js';
export { fullJitterDelaySec, noJitterDelaySec, type BackoffOptions } from './core/policy/backoff.js';
export { allowsAttempt, currentState as breakerState, recordFailure, recordSuccess } from './core/policy/breaker.js';
export { evaluateQueueBreaker } from './core/policy/queue-breaker.js';
export * from './core/rules/agent-activity/index.js';
export { DEFAULT_CONFIG, KEY_DEFINITIONS, type AgentConfig } from './config/keys.js';
