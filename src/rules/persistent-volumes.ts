import type { ProvisionerCapabilities } from '../core/capabilities.js';
import { formatGiB, parseQuantity, roundUpGiB } from '../core/quantity.js';
import { claimPath } from '../core/storage.js';
import { provisionerOfVolume, type PersistentVolumeInfo } from '../core/volumes.js';
import type { Policy, PolicyProblem } from '../policy/model.js';
import { boundsProblems, listOf, lookupFailure, violation } from './common.js';
import type { Finding, ReviewedClaim, RuleContext, RuleFamily } from './contract.js';

// Statically provisioned PersistentVolumes, the ones an administrator writes by hand (NFS exports, hostPath, local
// disks, a CSI volume handle): which sources, drivers, reclaim policies, sizes and labels a policy accepts, and, for
// every governing policy, access modes the volume source can never serve. Volumes a provisioner made for a claim
// carry pv.kubernetes.io/provisioned-by: their claim was judged, and they are never judged here (nor sent: the
// webhook configurations' matchConditions leave them out, so provisioning never waits for this webhook).

/**
 * Whether the source can serve the mode for this volume: listed, or served under a condition the volume may meet
 * (a volumeMode it has; StorageClass parameters a static volume does not carry cannot rule it out).
 */
function mayServe(capabilities: ProvisionerCapabilities, mode: string, volume: PersistentVolumeInfo): boolean {
  if ((capabilities.modes as readonly string[]).includes(mode)) return true;
  return (capabilities.conditional ?? []).some(
    (condition) => condition.mode === mode && (!condition.volumeMode || condition.volumeMode === volume.volumeMode),
  );
}

function accessModeFindings(context: RuleContext, volume: PersistentVolumeInfo, policy: Policy): Finding[] {
  const provisioner = provisionerOfVolume(volume);
  const capabilities = provisioner === undefined ? undefined : context.capabilitiesFor(policy).get(provisioner);
  if (!capabilities) return [];
  const served = capabilities.modes.join(', ');
  return volume.accessModes.flatMap((mode, index) =>
    mayServe(capabilities, mode, volume)
      ? []
      : [
          violation(
            'persistent-volumes/access-modes',
            policy,
            `spec.accessModes[${index}]`,
            `${mode} is not served by ${volume.source === 'csi' ? `CSI driver ${provisioner}` : `a ${volume.source} volume`} (serves ${served}); list only modes the volume can serve`,
          ),
        ],
  );
}

function settingFindings(volume: PersistentVolumeInfo, policy: Policy): Finding[] {
  const settings = policy.persistentVolumes;
  if (!settings) return [];
  const findings: Finding[] = [];
  if (settings.sources && volume.source !== undefined && !settings.sources.includes(volume.source)) {
    findings.push(
      violation(
        'persistent-volumes/source',
        policy,
        `spec.${volume.source}`,
        `${volume.source} volumes are not allowed here; use one of ${listOf(settings.sources)}`,
      ),
    );
  }
  if (settings.csiDrivers && volume.source === 'csi' && !settings.csiDrivers.includes(volume.csiDriver ?? '')) {
    findings.push(
      violation(
        'persistent-volumes/csi-driver',
        policy,
        'spec.csi.driver',
        `CSI driver ${volume.csiDriver ?? '(none)'} is not allowed here; use one of ${listOf(settings.csiDrivers)}`,
      ),
    );
  }
  // The API server defaults an absent policy to Retain for a PersistentVolume written by hand.
  const reclaimPolicy = volume.reclaimPolicy ?? 'Retain';
  if (settings.reclaimPolicies && !(settings.reclaimPolicies as readonly string[]).includes(reclaimPolicy)) {
    const recycle = reclaimPolicy === 'Recycle' ? ' (Recycle is deprecated: scrub the volume another way)' : '';
    findings.push(
      violation(
        'persistent-volumes/reclaim-policy',
        policy,
        'spec.persistentVolumeReclaimPolicy',
        `reclaim policy ${reclaimPolicy} is not allowed here${recycle}; use ${listOf(settings.reclaimPolicies)}`,
      ),
    );
  }
  findings.push(...capacityFindings(volume, policy));
  for (const label of settings.requiredLabels ?? []) {
    if (volume.labels[label] === undefined)
      findings.push(
        violation(
          'persistent-volumes/labels',
          policy,
          `metadata.labels[${label}]`,
          `the label ${label} is required on PersistentVolumes here`,
        ),
      );
  }
  return findings;
}

function capacityFindings(volume: PersistentVolumeInfo, policy: Policy): Finding[] {
  const bounds = policy.persistentVolumes?.capacity;
  if (!bounds) return [];
  const path = 'spec.capacity.storage';
  const size = volume.capacityBytes;
  if (size === undefined) return [];
  const min = bounds.min === undefined ? undefined : parseQuantity(bounds.min);
  const max = bounds.max === undefined ? undefined : parseQuantity(bounds.max);
  const written = `${volume.capacityText ?? ''} (${formatGiB(roundUpGiB(size))})`;
  if (min !== undefined && size < min)
    return [violation('persistent-volumes/capacity', policy, path, `${written} is below the minimum ${bounds.min}`)];
  if (max !== undefined && size > max)
    return [violation('persistent-volumes/capacity', policy, path, `${written} is above the maximum ${bounds.max}`)];
  return [];
}

function validateVolume(context: RuleContext): Finding[] {
  const volume = context.volume;
  if (!volume || volume.provisioned) return [];
  return [
    ...context.governing.flatMap((policy) => accessModeFindings(context, volume, policy)),
    ...context.policies.flatMap((policy) => settingFindings(volume, policy)),
  ];
}

/**
 * A claim its writer pre-binds to a volume (spec.volumeName) binds only if the volume satisfies it, as the PV
 * controller checks (kubernetes/kubernetes pkg/controller/volume/persistentvolume/pv_controller.go,
 * checkVolumeSatisfyClaim): capacity at least the request, the same class, the same volumeMode, every requested
 * access mode offered. Otherwise the claim is Pending forever. A volume that does not exist yet is waited for.
 */
function preBoundFindings(context: RuleContext, claim: ReviewedClaim, policy: Policy): Finding[] {
  const name = claim.volumeName;
  if (!name || context.operation !== 'CREATE') return [];
  const found = context.lookup.volume(name);
  const path = claimPath(claim, 'spec', 'volumeName');
  if (!found.known) return lookupFailure(policy, path, `the pre-bound volume ${name}`, found.reason);
  const volume = found.value;
  if (!volume) return [];
  const problems: string[] = [];
  if (
    claim.requestBytes !== undefined &&
    volume.capacityBytes !== undefined &&
    volume.capacityBytes < claim.requestBytes
  )
    problems.push(`it offers ${volume.capacityText ?? ''}, less than the ${claim.requestText ?? ''} requested`);
  // The class as the claim writes it; one it leaves unset is decided by defaulting, not judged here.
  if (claim.classSource !== 'unset' && (claim.className ?? '') !== (volume.className ?? ''))
    problems.push(
      `its class is ${volume.className ? volume.className : '"" (none)'}, the claim asks for ${claim.className ? claim.className : '"" (none)'}`,
    );
  if (claim.volumeMode !== volume.volumeMode)
    problems.push(`it is volumeMode ${volume.volumeMode}, the claim asks for ${claim.volumeMode}`);
  const missing = claim.accessModes.filter((mode) => !volume.accessModes.includes(mode));
  if (missing.length > 0) problems.push(`it does not offer ${listOf(missing)} (offers ${listOf(volume.accessModes)})`);
  if (problems.length === 0) return [];
  return [
    violation(
      'persistent-volumes/pre-bound',
      policy,
      path,
      `volume ${name} can never bind this claim: ${problems.join('; ')}; the claim would stay Pending. Match the volume, or name another`,
    ),
  ];
}

function validateClaims(context: RuleContext): Finding[] {
  return context.claims.flatMap((claim) =>
    context.governing.flatMap((policy) => preBoundFindings(context, claim, policy)),
  );
}

function describe(policy: Policy): string[] {
  const settings = policy.persistentVolumes;
  const lines = settings
    ? [
        settings.sources ? `volume sources: ${listOf(settings.sources)}` : '',
        settings.csiDrivers ? `CSI drivers: ${listOf(settings.csiDrivers)}` : '',
        settings.reclaimPolicies ? `reclaim policies: ${listOf(settings.reclaimPolicies)}` : '',
        settings.capacity ? `capacity ${settings.capacity.min ?? '0'} to ${settings.capacity.max ?? 'any size'}` : '',
        settings.requiredLabels ? `labels required: ${listOf(settings.requiredLabels)}` : '',
      ].filter(Boolean)
    : [];
  return [
    ...(lines.length > 0 ? [`static PersistentVolumes: ${lines.join('; ')}`] : []),
    'access modes a volume source can never serve are denied (every governing policy); provisioned volumes are not judged',
    'a claim pre-bound to a volume that can never satisfy it (size, class, volumeMode, access modes) is denied (every governing policy)',
  ];
}

/** Bounds in order: a min above the max admits no volume. */
function checkPolicy(policy: Policy): PolicyProblem[] {
  return boundsProblems(policy.persistentVolumes?.capacity, ['spec', 'persistentVolumes', 'capacity']);
}

export const persistentVolumesFamily: RuleFamily = {
  name: 'persistent-volumes',
  sections: ['persistentVolumes'],
  ruleIds: [
    'persistent-volumes/access-modes',
    'persistent-volumes/source',
    'persistent-volumes/csi-driver',
    'persistent-volumes/reclaim-policy',
    'persistent-volumes/capacity',
    'persistent-volumes/labels',
    'persistent-volumes/pre-bound',
  ],
  // A volume listing a mode its source cannot serve binds claims whose pods then fail to mount or corrupt data; a
  // claim pre-bound to a volume that cannot satisfy it never binds.
  factRules: ['persistent-volumes/access-modes', 'persistent-volumes/pre-bound'],
  mutations: [],
  claimFields: [
    'spec.resources',
    'spec.storageClassName',
    'spec.volumeMode',
    'spec.accessModes',
    'metadata.annotations',
  ],
  describe,
  validate: { PersistentVolume: validateVolume, PersistentVolumeClaim: validateClaims },
  mutate: {},
  checkPolicy,
};
