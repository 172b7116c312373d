import type { Policy, RuleId } from '../policy/model.js';
import { accessModesFamily } from './access-modes.js';
import { attributesClassFamily, composeAttributesClasses } from './attributes-class.js';
import { capacityFamily } from './capacity.js';
import { claimMetadataFamily } from './claim-metadata.js';
import { dataSourcesFamily } from './data-sources.js';
import { classRequirementsFamily } from './class-requirements.js';
import { composeCost, costFamily } from './cost.js';
import type { ComposedSettings, RuleFamily } from './contract.js';
import { inlineVolumesFamily } from './inline-volumes.js';
import { composeIops, iopsFamily } from './iops.js';
import { persistentVolumesFamily } from './persistent-volumes.js';
import { composeClasses, storageClassFamily } from './storage-class.js';
import { composeZones, zonesFamily } from './zones.js';

/** Every rule family, in the order they run: IOPS quotes and zone checks read the class that defaulting set. */
export const RULE_FAMILIES: readonly RuleFamily[] = [
  storageClassFamily,
  accessModesFamily,
  zonesFamily,
  iopsFamily,
  capacityFamily,
  claimMetadataFamily,
  classRequirementsFamily,
  attributesClassFamily,
  persistentVolumesFamily,
  dataSourcesFamily,
  inlineVolumesFamily,
  costFamily,
];

/** Rule ids no single family owns: any family that needs cluster data may report them. */
export const SHARED_RULE_IDS: readonly RuleId[] = ['lookup/unavailable'];

/** The family that reports a rule id; undefined for the shared ones. */
export function familyOfRule(rule: RuleId): RuleFamily | undefined {
  return RULE_FAMILIES.find((family) => family.ruleIds.includes(rule));
}

/**
 * How the policies that govern one object combine, `policies` in precedence order: each family composes the settings
 * it writes with (docs/policies.md, "Several policies on one object"). Judging settings are never merged: each policy
 * judges on its own and the object must satisfy them all, so what mutates is chosen for every policy to accept.
 */
export function composeSettings(policies: readonly Policy[]): ComposedSettings {
  return {
    ...composeClasses(policies),
    ...composeAttributesClasses(policies),
    ...composeZones(policies),
    ...composeIops(policies),
    ...composeCost(policies),
  };
}
