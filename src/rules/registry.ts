import type { RuleId } from '../policy/model.js';
import { accessModesFamily } from './access-modes.js';
import { attributesClassFamily } from './attributes-class.js';
import { capacityFamily } from './capacity.js';
import { claimMetadataFamily } from './claim-metadata.js';
import { dataSourcesFamily } from './data-sources.js';
import { classRequirementsFamily } from './class-requirements.js';
import { costFamily } from './cost.js';
import type { RuleFamily } from './contract.js';
import { inlineVolumesFamily } from './inline-volumes.js';
import { iopsFamily } from './iops.js';
import { persistentVolumesFamily } from './persistent-volumes.js';
import { storageClassFamily } from './storage-class.js';
import { zonesFamily } from './zones.js';

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
