import { csiDriverOf } from '../core/capabilities.js';
import { formatGiB, roundUpGiB } from '../core/quantity.js';
import { claimPath, type DataSource } from '../core/storage.js';
import type { Policy } from '../policy/model.js';
import { classFieldPath, forClaimKinds, listOf, lookupFailure, violation } from './common.js';
import type { Finding, ReviewedClaim, RuleContext, RuleFamily } from './contract.js';

// Claims made from something: a clone of another claim, a restore from a VolumeSnapshot, a volume populator. A clone
// the CSI provisioner refuses never provisions, and the claim sits Pending: external-provisioner
// (kubernetes-csi/external-provisioner pkg/controller/controller.go, getPVCSource) refuses a request smaller than the
// source claim's, a source volume of another CSI driver than the class's provisioner, and another volumeMode. Those
// are facts, judged for every governing policy; which kinds of source a team may use is a setting. A restore from a
// VolumeSnapshot likewise (getSnapshotSource): a request smaller than the snapshot's restoreSize, or a class of
// another CSI driver than the snapshot content's.

/** A restore: the data source is a CSI VolumeSnapshot (kubernetes-csi/external-snapshotter's API group). */
function isRestore(source: DataSource): boolean {
  return source.apiGroup === 'snapshot.storage.k8s.io' && source.kind === 'VolumeSnapshot';
}

/** A clone: the data source is a claim (core group) in the claim's namespace, as the API server requires. */
function isClone(source: DataSource): boolean {
  return source.apiGroup === '' && source.kind === 'PersistentVolumeClaim';
}

function kindFindings(source: DataSource, policy: Policy): Finding[] {
  const allowed = policy.dataSources?.allowedKinds;
  if (!allowed || allowed.includes(source.kind)) return [];
  return [
    violation(
      'data-sources/kind',
      policy,
      `${source.path}.kind`,
      `claims may not be made from a ${source.kind} here; use ${listOf(allowed)}`,
    ),
  ];
}

function cloneFindings(context: RuleContext, claim: ReviewedClaim, source: DataSource, policy: Policy): Finding[] {
  const found = context.lookup.claim(context.namespace, source.name);
  if (!found.known) return lookupFailure(policy, source.path, `the clone of claim ${source.name}`, found.reason);
  const original = found.value;
  // A source that does not exist yet: the provisioner waits for it, and nothing here can be compared.
  if (!original) return [];
  const findings: Finding[] = [];
  if (
    claim.requestBytes !== undefined &&
    original.requestBytes !== undefined &&
    claim.requestBytes < original.requestBytes
  ) {
    const size = formatGiB(roundUpGiB(original.requestBytes));
    findings.push(
      violation(
        'data-sources/clone-size',
        policy,
        claimPath(claim, 'spec', 'resources', 'requests', 'storage'),
        `${claim.requestText ?? ''} is smaller than the source claim ${source.name} (${size}): the provisioner refuses a clone smaller than its source; request at least ${size}`,
      ),
    );
  }
  if (claim.volumeMode !== original.volumeMode) {
    findings.push(
      violation(
        'data-sources/clone-volume-mode',
        policy,
        claimPath(claim, 'spec', 'volumeMode'),
        `volumeMode ${claim.volumeMode} differs from the source claim ${source.name} (${original.volumeMode}): a clone keeps its source's volumeMode`,
      ),
    );
  }
  const target = claim.storageClass;
  if (target.state === 'found' && original.className) {
    const sourceClass = context.lookup.storageClass(original.className);
    const sourceDriver =
      sourceClass.known && sourceClass.value ? csiDriverOf(sourceClass.value.provisioner) : undefined;
    const targetDriver = csiDriverOf(target.info.provisioner);
    if (sourceDriver !== undefined && sourceDriver !== targetDriver) {
      findings.push(
        violation(
          'data-sources/clone-driver',
          policy,
          classFieldPath(claim),
          `class ${target.name} (${targetDriver}) cannot clone claim ${source.name} of class ${original.className} (${sourceDriver}): only the source's CSI driver clones it; use a class of ${sourceDriver}`,
        ),
      );
    }
  }
  return findings;
}

/**
 * A restore the provisioner refuses (external-provisioner getSnapshotSource): a request smaller than the snapshot's
 * restoreSize, or a class whose driver is not the one of the snapshot's content. Known only once the snapshot
 * controller has set them; a snapshot that does not exist yet is waited for, as a clone's source is.
 */
function restoreFindings(context: RuleContext, claim: ReviewedClaim, source: DataSource, policy: Policy): Finding[] {
  const found = context.lookup.snapshot(context.namespace, source.name);
  if (!found.known) return lookupFailure(policy, source.path, `the restore from snapshot ${source.name}`, found.reason);
  const snapshot = found.value;
  if (!snapshot) return [];
  const findings: Finding[] = [];
  if (
    claim.requestBytes !== undefined &&
    snapshot.restoreBytes !== undefined &&
    claim.requestBytes < snapshot.restoreBytes
  ) {
    const size = formatGiB(roundUpGiB(snapshot.restoreBytes));
    findings.push(
      violation(
        'data-sources/restore-size',
        policy,
        claimPath(claim, 'spec', 'resources', 'requests', 'storage'),
        `${claim.requestText ?? ''} is smaller than the restoreSize of snapshot ${source.name} (${size}): the provisioner refuses to restore into a smaller volume; request at least ${size}`,
      ),
    );
  }
  const target = claim.storageClass;
  if (target.state === 'found' && snapshot.driver !== undefined) {
    const targetDriver = csiDriverOf(target.info.provisioner);
    if (targetDriver !== snapshot.driver) {
      findings.push(
        violation(
          'data-sources/restore-driver',
          policy,
          classFieldPath(claim),
          `class ${target.name} (${targetDriver}) cannot restore snapshot ${source.name}, taken by ${snapshot.driver}: only the snapshot's CSI driver restores it; use a class of ${snapshot.driver}`,
        ),
      );
    }
  }
  return findings;
}

function validateClaims(context: RuleContext): Finding[] {
  return context.claims.flatMap((claim) => {
    const source = claim.dataSource;
    if (!source) return [];
    return [
      ...context.policies.flatMap((policy) => kindFindings(source, policy)),
      ...(isClone(source) ? context.governing.flatMap((policy) => cloneFindings(context, claim, source, policy)) : []),
      ...(isRestore(source)
        ? context.governing.flatMap((policy) => restoreFindings(context, claim, source, policy))
        : []),
    ];
  });
}

function describe(policy: Policy): string[] {
  const allowed = policy.dataSources?.allowedKinds;
  return [
    ...(allowed ? [`claims may be made from: ${listOf(allowed)}`] : []),
    'clones the provisioner refuses (smaller than the source, another volumeMode or CSI driver) are denied (every governing policy)',
    'restores the provisioner refuses (smaller than the snapshot, another CSI driver) are denied (every governing policy)',
  ];
}

export const dataSourcesFamily: RuleFamily = {
  name: 'data-sources',
  sections: ['dataSources'],
  ruleIds: [
    'data-sources/kind',
    'data-sources/clone-size',
    'data-sources/clone-volume-mode',
    'data-sources/clone-driver',
    'data-sources/restore-size',
    'data-sources/restore-driver',
  ],
  factRules: [
    'data-sources/clone-size',
    'data-sources/clone-volume-mode',
    'data-sources/clone-driver',
    'data-sources/restore-size',
    'data-sources/restore-driver',
  ],
  mutations: [],
  claimFields: ['spec.resources', 'spec.storageClassName', 'spec.volumeMode', 'metadata.annotations'],
  describe,
  validate: forClaimKinds(validateClaims),
  mutate: {},
};
