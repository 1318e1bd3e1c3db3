/**
 * Binds the self-healing policy to the state machine: whenever a project
 * enters failed or completed, by whatever path (detector, report, operator),
 * its breaker and next retry time are updated the same way.
 */
import type { AgentConfig } from '../../config/keys.js';
import type { EnterHook } from '../model/apply.js';
import type { RandomSource } from './backoff.js';
import { onProjectCompleted, onProjectFailed } from './retry.js';

export function policyEnterHook(config: AgentConfig, random: RandomSource): EnterHook {
  return (project, to, now, patch) => {
    if (to === 'failed') return onProjectFailed({ ...project, ...patch, state: 'failed' }, now, config, random);
    if (to === 'completed') return onProjectCompleted(project);
    return { patch: {}, details: {} };
  };
}
