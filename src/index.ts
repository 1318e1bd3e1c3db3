/**
 * The library entry of tmux-orchestrator-agent: the pure core (types, state
 * machine, policy) and the configuration table. The OS adapters, the CLI, the
 * daemon and the server sit behind their own modules.
 */
export * from './core/project.js';
export * from './core/registry-document.js';
export * from './core/snapshot.js';
export * from './core/plan.js';
export { TRANSITIONS, canTransition, transition, IllegalTransitionError, type TransitionOptions, type TransitionResult } from './core/state-machine.js';
export { reconcile, evidenceCandidates, type ReconcileInput } from './core/reconcile.js';
export { decideCompletion, type EvidenceReport, type CompletionVerdict } from './core/completion.js';
export { guard } from './core/guard.js';
export { fullJitterDelaySec, noJitterDelaySec, type BackoffOptions } from './core/backoff.js';
export { allowsAttempt, currentState as breakerState, recordFailure, recordSuccess } from './core/breaker.js';
export { evaluateQueueBreaker } from './core/queue-breaker.js';
export * from './core/agent-activity/index.js';
export { DEFAULT_CONFIG, KEY_DEFINITIONS, type AgentConfig } from './config/keys.js';
