import { POD_SPEC_KINDS } from '../core/kinds.js';
import type { Policy } from '../policy/model.js';
import { handlersFor, listOf, violation } from './common.js';
import type { Finding, RuleContext, RuleFamily } from './contract.js';

// Volumes written inline in a pod spec that reach storage without a claim: a CSI inline volume (volumes[].csi) is
// provisioned by its driver for the pod's lifetime with no class, no PersistentVolume and nothing the claim rules
// could see, so the only guardrail is which drivers may serve them (a secrets store, an image volume driver), the
// way Pod Security's restricted profile leaves csi to an allow list. Generic ephemeral volumes are claims, and
// the claim families judge them (core/storage.ts reads them as the claims the ephemeral-volume controller makes).

function validatePodSpec(context: RuleContext): Finding[] {
  return context.policies.flatMap((policy) => {
    const allowed = policy.inlineVolumes?.csiDrivers;
    if (!allowed) return [];
    return context.inlineVolumes
      .filter((volume) => !allowed.includes(volume.driver))
      .map((volume) =>
        violation(
          'inline-volumes/csi-driver',
          policy,
          volume.path,
          allowed.length === 0
            ? `CSI inline volume ${volume.name} (${volume.driver}) is not allowed here: no driver may serve inline volumes; use a generic ephemeral volume or a claim`
            : `CSI inline volume ${volume.name} uses driver ${volume.driver}, not allowed here; use one of ${listOf(allowed)}, or a generic ephemeral volume`,
        ),
      );
  });
}

function describe(policy: Policy): string[] {
  const allowed = policy.inlineVolumes?.csiDrivers;
  if (!allowed) return [];
  return [`CSI inline volumes: ${allowed.length === 0 ? 'none allowed' : `drivers ${listOf(allowed)}`}`];
}

export const inlineVolumesFamily: RuleFamily = {
  name: 'inline-volumes',
  sections: ['inlineVolumes'],
  ruleIds: ['inline-volumes/csi-driver'],
  factRules: [],
  mutations: [],
  claimFields: [],
  describe,
  validate: handlersFor(POD_SPEC_KINDS, validatePodSpec),
  mutate: {},
};
