import type { AccessMode, ProvisionerCapabilities } from '../core/capabilities.js';
import type { EbsLimitOverride } from '../core/ebs.js';
import type { LabelSelector } from '../core/selectors.js';
import type { GovernedKind } from '../core/storage.js';

export const OWNER_ANNOTATION = 'storage-policy-webhook.io/owner';

export type Action = 'deny' | 'warn' | 'audit';
type LookupFailureMode = 'allow' | 'warn' | 'deny';

/** Every rule a policy can set an action for; docs/policies.md describes each. */
export const RULE_IDS = [
  'storage-class/allowed',
  'storage-class/single-default',
  'storage-class/denied',
  'storage-class/required',
  'storage-class/empty-class',
  'storage-class/missing',
  'access-modes/required',
  'access-modes/unsupported',
  'access-modes/read-write-once-pod-exclusive',
  'access-modes/read-only-with-read-write-once',
  'access-modes/unknown-provisioner',
  'access-modes/caution',
  'access-modes/not-allowed',
  'zones/class-topology',
  'zones/unrestricted-immediate',
  'zones/claim-class',
  'zones/pod-affinity',
  'zones/deprecated-label',
  'zones/no-nodes',
  'zones/class-translation',
  'iops/per-gb-format',
  'iops/per-gb-type',
  'iops/per-gb-maximum',
  'iops/iops-and-per-gb',
  'iops/below-minimum',
  'iops/adjusted',
  'iops/volume-budget',
  'iops/namespace-budget',
  'iops/throughput-type',
  'iops/throughput-limits',
  'iops/throughput-volume-budget',
  'iops/throughput-namespace-budget',
  'capacity/request-missing',
  'capacity/type-limits',
  'capacity/policy-limits',
  'claim-metadata/required',
  'attributes-class/allowed',
  'attributes-class/driver',
  'attributes-class/missing',
  'attributes-class/limits',
  'class-requirements/reclaim-policy',
  'class-requirements/volume-expansion',
  'class-requirements/binding-mode',
  'class-requirements/provisioner',
  'class-requirements/parameter',
  'class-requirements/mount-options',
  'lookup/unavailable',
] as const;
export type RuleId = (typeof RULE_IDS)[number];

export interface DefaultClassChoice {
  class: string;
  /** The choice applies when the claim asks for any of these modes; absent means any claim. */
  whenAccessModes?: AccessMode[];
  whenVolumeMode?: 'Filesystem' | 'Block';
}

export interface MetadataRequirement {
  label?: string;
  annotation?: string;
  /** Regular expression the whole value must match. */
  pattern?: string;
  ifPresent?: boolean;
  whenClasses?: string[];
}

export interface ParameterRequirement {
  provisioner?: string;
  name: string;
  values?: string[];
  pattern?: string;
  optional?: boolean;
}

interface PolicyMatch {
  namespaces?: string[];
  excludeNamespaces?: string[];
  namespaceSelector?: LabelSelector;
  kinds: GovernedKind[];
}

export interface Policy {
  name: string;
  file: string;
  owner: string | undefined;
  priority: number;
  action: Action;
  lookupFailure: LookupFailureMode;
  /** RFC 3339: before this instant the policy's deny findings are warnings (dated enforcement). */
  enforceFrom?: string;
  /** What StoragePolicyExceptions may do with this policy. */
  exceptions?: { allowed?: boolean; maxDays?: number };
  match: PolicyMatch;
  rules: Partial<Record<RuleId, Action>>;
  storageClasses?: {
    defaults?: DefaultClassChoice[];
    allowed?: string[];
    denied?: string[];
    /** Deny a claim that ends with no class at all (instead of defaulting it). */
    required?: boolean;
    /** storageClassName: "" (static binding); default allow. */
    emptyClass?: 'allow' | 'deny';
    /** A named class the cluster does not have; default warn. */
    missingClass?: 'allow' | 'warn' | 'deny';
    /** Rewrite a forbidden class to this one on PVC CREATE. */
    fallback?: string;
    singleClusterDefault?: boolean;
  };
  accessModes?: {
    unknownProvisioner?: 'allow' | 'warn' | 'deny';
    capabilities?: ProvisionerCapabilities[];
    allowed?: AccessMode[];
    denied?: AccessMode[];
  };
  volumeAttributesClasses?: {
    /** The VolumeAttributesClasses claims may name. */
    allowed?: string[];
    /** Set on a claim created without one, when its class's driver matches. */
    default?: string;
  };
  claimMetadata?: {
    required: MetadataRequirement[];
  };
  classRequirements?: {
    reclaimPolicies?: Array<'Delete' | 'Retain' | 'Recycle'>;
    allowVolumeExpansion?: 'required' | 'forbidden';
    volumeBindingMode?: 'Immediate' | 'WaitForFirstConsumer';
    provisioners?: string[];
    parameters?: ParameterRequirement[];
    mountOptions?: string[];
  };
  zones?: {
    allowed: string[];
    addAllowedTopologies?: boolean;
    pinStatefulSets?: boolean;
  };
  iops?: {
    maxPerVolume?: number;
    maxPerNamespace?: number;
    /** MiB/s. */
    maxThroughputPerVolume?: number;
    maxThroughputPerNamespace?: number;
    annotateQuote?: boolean;
  };
  /** Provider limits that differ from the built-in facts table (a region's gp3 cap, an older driver). */
  providerLimits?: {
    ebs?: Record<string, EbsLimitOverride>;
  };
  capacity?: {
    min?: string;
    max?: string;
  };
}

/** Policies in precedence order: higher priority first, then name ascending. */
export function byPrecedence(a: Policy, b: Policy): number {
  return b.priority - a.priority || a.name.localeCompare(b.name);
}

/**
 * A StoragePolicyException: named objects exempted from named rules of named policies, with an owner, a reason and an
 * expiry (or permanent). Its findings are reported, never enforced.
 */
export interface PolicyException {
  name: string;
  file: string;
  owner: string;
  reason: string;
  /** RFC 3339; undefined only when permanent. */
  expiresAt: string | undefined;
  permanent: boolean;
  policies: Array<{ name: string; rules?: RuleId[] }>;
  match: { kinds?: GovernedKind[]; namespaces?: string[]; names?: string[]; labelSelector?: LabelSelector };
}
