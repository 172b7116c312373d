import {
  ebsLimits,
  effectiveParameters,
  isEbsProvisioner,
  parseDriverInteger,
  provisionedBy,
  quoteIops,
  quoteThroughput,
  readEbsClass,
  type EbsClassSettings,
  type EbsLimits,
  type IopsQuote,
  type ThroughputQuote,
} from '../core/ebs.js';
import { objectAt } from '../core/json.js';
import { fieldPath, pointer, setAt, type PatchOperation } from '../core/patch.js';
import { parameterKey } from '../core/capabilities.js';
import { formatGiB, roundUpGiB } from '../core/quantity.js';
import { claimPath, readStorageClass, type Claim, type StorageClassInfo } from '../core/storage.js';
import { type GovernedKind } from '../core/kinds.js';
import {
  type ComposedSettings,
  type Finding,
  type Mutation,
  type ReviewedClaim,
  type RuleContext,
  type RuleFamily,
} from './contract.js';
import type { Policy, PolicyProblem } from '../policy/model.js';
import type { VolumeMeasure } from '../lookup/lookup.js';
import { advice, claimNamesOf, classFieldPath, forClaimKinds, lookupFailure, violation } from './common.js';

export const IOPS_QUOTE_ANNOTATION = 'storage-policy-webhook.io/provisioned-iops';
export const THROUGHPUT_QUOTE_ANNOTATION = 'storage-policy-webhook.io/provisioned-throughput';

/** The exact spelling the class uses for a parameter, since EBS parameter names are case-insensitive. */
function parameterPath(parameters: Record<string, string>, key: string): string {
  return fieldPath('parameters', parameterKey(parameters, key) ?? key);
}

/** Whose limit a message quotes: the driver's, or a policy override's. */
function limitOwner(limits: EbsLimits): string {
  return limits.overriddenBy ? ` (limit set by policy ${limits.overriddenBy})` : '';
}

function integerFinding(policy: Policy, path: string, name: string, text: string): Finding | undefined {
  const value = parseDriverInteger(text);
  if (value !== undefined && value > 0) return undefined;
  const why =
    value === undefined
      ? 'is not an integer the driver can parse, so CreateVolume fails'
      : 'is negative, so the driver ignores it';
  return violation('iops/per-gb-format', policy, path, `${name} "${text}" ${why}; write it like ${name}: "50"`);
}

function storageClassFindings(context: RuleContext, policy: Policy): Finding[] {
  const storageClass = readStorageClass(context.object);
  if (!isEbsProvisioner(storageClass.provisioner)) return [];
  const settings = readEbsClass(storageClass.provisioner, storageClass.parameters);
  const limits = context.settings.ebsLimitsFor(settings.type);
  const findings: Finding[] = [];
  const perGiBPath = parameterPath(storageClass.parameters, 'iopsPerGB');
  const iopsPath = parameterPath(storageClass.parameters, 'iops');
  const takesIops = limits?.iops !== undefined;
  for (const [name, text, path] of [
    ['iopsPerGB', settings.iopsPerGBText, perGiBPath],
    ['iops', settings.iopsText, iopsPath],
    ['throughput', settings.throughputText, parameterPath(storageClass.parameters, 'throughput')],
  ] as const) {
    const finding = text === undefined ? undefined : integerFinding(policy, path, name, text);
    if (finding) findings.push(finding);
  }
  if ((settings.iopsPerGBText !== undefined || settings.iopsText !== undefined) && !takesIops) {
    findings.push(
      violation(
        'iops/per-gb-type',
        policy,
        settings.iopsPerGBText !== undefined ? perGiBPath : iopsPath,
        `the EBS driver ignores iops and iopsPerGB on type ${settings.type}; they apply to io1, io2 and gp3`,
      ),
    );
  }
  const perGiB = settings.iopsPerGBText === undefined ? undefined : parseDriverInteger(settings.iopsPerGBText);
  if (perGiB !== undefined && limits?.iops && perGiB > limits.iops.maxPerGiB) {
    findings.push(
      violation(
        'iops/per-gb-maximum',
        policy,
        perGiBPath,
        `${perGiB} exceeds the ${settings.type} maximum of ${limits.iops.maxPerGiB} IOPS per GiB${limitOwner(limits)}; use at most "${limits.iops.maxPerGiB}"`,
      ),
    );
  }
  if (settings.iopsPerGBText !== undefined && settings.iopsText !== undefined) {
    findings.push(
      violation(
        'iops/iops-and-per-gb',
        policy,
        iopsPath,
        'iops and iopsPerGB together is an error in the EBS driver; keep one',
      ),
    );
  }
  if (settings.throughputText !== undefined && !limits?.throughput) {
    findings.push(
      violation(
        'iops/throughput-type',
        policy,
        parameterPath(storageClass.parameters, 'throughput'),
        `throughput applies to gp3 only, not ${settings.type}; remove it`,
      ),
    );
  }
  // With a fixed iops the throughput check does not depend on the claim's size: judge it on the class.
  if (limits?.throughput && settings.iopsPerGBText === undefined) {
    const throughput = quoteThroughput(settings, limits, quoteIops(settings, limits.minGiB, limits));
    if (throughput.outcome === 'fails')
      findings.push(
        throughputFailure(policy, parameterPath(storageClass.parameters, 'throughput'), throughput, limits),
      );
  }
  return findings;
}

function throughputFailure(
  policy: Policy,
  path: string,
  quote: Extract<ThroughputQuote, { outcome: 'fails' }>,
  limits: EbsLimits,
): Finding {
  const why =
    quote.reason === 'below-baseline'
      ? `is below the ${limits.type} minimum of ${quote.limit} MiB/s`
      : quote.reason === 'above-maximum'
        ? `exceeds the ${limits.type} maximum of ${quote.limit} MiB/s${limitOwner(limits)}`
        : `exceeds ${quote.limit} MiB/s, the most ${limits.throughput?.maxPerIops ?? 0} MiB/s per provisioned IOPS allows${limitOwner(limits)}`;
  return violation(
    'iops/throughput-limits',
    policy,
    path,
    `throughput ${quote.mibps} MiB/s ${why}: EC2 refuses it and the claim stays Pending; lower throughput or provision more IOPS`,
  );
}

interface ClaimQuote {
  claim: Claim;
  storageClass: StorageClassInfo;
  settings: EbsClassSettings;
  limits: EbsLimits | undefined;
  gib: number;
  iops: IopsQuote;
  throughput: ThroughputQuote;
}

function quoteClaim(
  context: RuleContext,
  claim: ReviewedClaim,
  storageClass: StorageClassInfo,
): ClaimQuote | undefined {
  if (!isEbsProvisioner(storageClass.provisioner) || claim.requestBytes === undefined || claim.requestBytes <= 0)
    return undefined;
  const gib = roundUpGiB(claim.requestBytes);
  // A VolumeAttributesClass of the same driver overrides the class's type, iops and throughput.
  const vac =
    claim.attributesClass.state === 'found' && claim.attributesClass.info.driverName === 'ebs.csi.aws.com'
      ? claim.attributesClass.info.parameters
      : undefined;
  const settings = readEbsClass(storageClass.provisioner, effectiveParameters(storageClass.parameters, vac));
  const limits = context.settings.ebsLimitsFor(settings.type);
  const iops = quoteIops(settings, gib, limits);
  return { claim, storageClass, settings, limits, gib, iops, throughput: quoteThroughput(settings, limits, iops) };
}

function describeRequest(quoted: ClaimQuote): string {
  return quoted.settings.iopsPerGBText !== undefined
    ? `${formatGiB(quoted.gib)} x iopsPerGB ${quoted.settings.iopsPerGBText}`
    : `iops ${quoted.settings.iopsText ?? ''}`;
}

function quoteFindings(quoted: ClaimQuote, policy: Policy): Finding[] {
  const { claim, iops, throughput, settings } = quoted;
  const path = claimPath(claim, 'spec', 'resources', 'requests', 'storage');
  const findings: Finding[] = [];
  if (iops.outcome === 'fails') {
    const perGiB = settings.iopsPerGBText === undefined ? undefined : parseDriverInteger(settings.iopsPerGBText);
    const enough = perGiB ? ` request at least ${formatGiB(Math.ceil(iops.minimum / perGiB))} or` : '';
    findings.push(
      violation(
        'iops/below-minimum',
        policy,
        path,
        `${describeRequest(quoted)} = ${iops.requested} IOPS is below the ${settings.type} minimum of ${iops.minimum}: the driver would fail and the claim stay Pending;${enough} use a class with allowAutoIOPSPerGBIncrease: "true"`,
      ),
    );
  }
  if (iops.outcome === 'provisioned') {
    if (iops.adjustment !== 'none') {
      const how =
        iops.adjustment === 'raised-to-minimum'
          ? 'raised to the minimum'
          : iops.adjustment === 'capped-per-gib'
            ? 'capped by the per-GiB maximum'
            : `capped at the ${settings.type} maximum`;
      findings.push(
        advice(
          'iops/adjusted',
          policy,
          path,
          `${describeRequest(quoted)} = ${iops.requested} IOPS; the driver provisions ${iops.iops} (${how})`,
        ),
      );
    }
    const maxPerVolume = policy.iops?.maxPerVolume;
    if (maxPerVolume !== undefined && iops.iops > maxPerVolume) {
      findings.push(
        violation(
          'iops/volume-budget',
          policy,
          path,
          `${iops.iops} provisioned IOPS exceed the per-volume budget of ${maxPerVolume}; request a smaller volume or use a class with fewer IOPS per GiB`,
        ),
      );
    }
  }
  if (throughput.outcome === 'fails' && quoted.limits) {
    findings.push(throughputFailure(policy, path, throughput, quoted.limits));
  }
  const maxThroughput = policy.iops?.maxThroughputPerVolume;
  if (throughput.outcome === 'provisioned' && maxThroughput !== undefined && throughput.mibps > maxThroughput) {
    findings.push(
      violation(
        'iops/throughput-volume-budget',
        policy,
        path,
        `${throughput.mibps} MiB/s of throughput exceed the per-volume budget of ${maxThroughput} MiB/s; use a class with less throughput`,
      ),
    );
  }
  return findings;
}

/** What an existing claim provisions, as the namespace budgets count it (one function each, so the cache memoises the sums). */
const PROVISIONED_IOPS: VolumeMeasure = (volume) =>
  provisionedBy(volume.storageClass, volume.attributesClass, volume.requestBytes).iops;
const PROVISIONED_THROUGHPUT: VolumeMeasure = (volume) =>
  provisionedBy(volume.storageClass, volume.attributesClass, volume.requestBytes).throughputMiBps;

function namespaceFindings(context: RuleContext, policy: Policy, quotes: ClaimQuote[]): Finding[] {
  const budgets = { iops: policy.iops?.maxPerNamespace, throughput: policy.iops?.maxThroughputPerNamespace };
  const first = quotes[0];
  if ((budgets.iops === undefined && budgets.throughput === undefined) || !first) return [];
  const added = { iops: 0, throughput: 0 };
  for (const quoted of quotes) {
    if (quoted.iops.outcome === 'provisioned') added.iops += quoted.iops.iops * quoted.claim.copies;
    if (quoted.throughput.outcome === 'provisioned') added.throughput += quoted.throughput.mibps * quoted.claim.copies;
  }
  const path = claimPath(first.claim, 'spec', 'resources', 'requests', 'storage');
  const checks = [
    {
      budget: budgets.iops,
      added: added.iops,
      rule: 'iops/namespace-budget' as const,
      unit: 'IOPS',
      free: 'free IOPS or ask for a larger budget',
    },
    {
      budget: budgets.throughput,
      added: added.throughput,
      rule: 'iops/throughput-namespace-budget' as const,
      unit: 'MiB/s',
      free: 'free throughput or ask for a larger budget',
    },
  ].filter((check) => check.budget !== undefined && check.added > 0);
  if (checks.length === 0) return [];
  const exclude = claimNamesOf(context.claims);
  const existing = {
    iops: context.lookup.namespaceTotal(context.namespace, exclude, PROVISIONED_IOPS),
    throughput: context.lookup.namespaceTotal(context.namespace, exclude, PROVISIONED_THROUGHPUT),
  };
  if (!existing.iops.known)
    return lookupFailure(policy, path, `namespace budgets of ${context.namespace}`, existing.iops.reason);
  if (!existing.throughput.known)
    return lookupFailure(policy, path, `namespace budgets of ${context.namespace}`, existing.throughput.reason);
  const sums: Record<string, number> = { IOPS: existing.iops.value, 'MiB/s': existing.throughput.value };
  return checks.flatMap((check) => {
    const before = sums[check.unit] ?? 0;
    const total = before + check.added;
    if (check.budget === undefined || total <= check.budget) return [];
    return [
      {
        ...violation(
          check.rule,
          policy,
          path,
          `namespace ${context.namespace} would provision ${total} ${check.unit} (${before} existing + ${check.added} new), over its budget of ${check.budget}; ${check.free}`,
        ),
        amount: check.added,
      },
    ];
  });
}

/**
 * The quotes go on claims only: a template's claims get theirs when the StatefulSet controller creates
 * them, and a template keeps what its owner wrote (docs/reapply.md). A claim's metadata is mutable, so the
 * quotes are derived again on UPDATE, and a re-apply that drops them gets them back.
 */
function quoteMutation(
  context: RuleContext,
  policy: Policy,
  quoted: ClaimQuote | undefined,
  claim: Claim,
): Mutation | undefined {
  if (claim.templateName !== undefined) return undefined;
  const iops = quoted?.iops.outcome === 'provisioned' ? quoted.iops : undefined;
  const throughput = quoted?.throughput.outcome === 'provisioned' ? quoted.throughput : undefined;
  const wanted: Array<[string, string | undefined, string]> = [
    [
      IOPS_QUOTE_ANNOTATION,
      iops && String(iops.iops),
      `provisioned-iops annotation ${iops?.iops ?? ''} (${quoted ? describeRequest(quoted) : ''})`,
    ],
    [
      THROUGHPUT_QUOTE_ANNOTATION,
      throughput && String(throughput.mibps),
      `provisioned-throughput ${throughput?.mibps ?? ''} MiB/s (${throughput?.requested ? 'the class throughput' : 'the gp3 baseline'})`,
    ],
  ];
  const changed = wanted.filter(([key, value]) => claim.annotations[key] !== value);
  if (changed.length === 0) return undefined;
  const added = changed.filter(([, value]) => value !== undefined);
  const removed = changed.filter(([, value]) => value === undefined);
  // Without an annotations map, one operation creates it with every quote: separate ones would each replace it.
  const patch: PatchOperation[] =
    objectAt(context.object, 'metadata', 'annotations') === undefined
      ? [
          setAt(
            context.object,
            ['metadata', 'annotations'],
            Object.fromEntries(added.map(([key, value]) => [key, value ?? ''])),
          ),
        ]
      : added.map(([key, value]) => setAt(context.object, ['metadata', 'annotations', key], value ?? ''));
  patch.push(
    ...removed.map(([key]): PatchOperation => ({ op: 'remove', path: pointer('metadata', 'annotations', key) })),
  );
  const notes = [
    ...added.map(([, , note]) => note),
    ...removed.map(([key]) => `${key.split('/')[1] ?? key} annotation removed: the class provisions none`),
  ];
  return { rule: 'iops/quote', policy, patch, note: notes.join('; ') };
}

function validateStorageClass(context: RuleContext): Finding[] {
  return context.policies.flatMap((policy) => storageClassFindings(context, policy));
}

/** The quote of each claim whose class is found (undefined: nothing to quote); unknown classes are left out. */
function claimQuotes(context: RuleContext): Array<{ claim: ReviewedClaim; quoted: ClaimQuote | undefined }> {
  return context.claims.flatMap((claim) => {
    const resolved = claim.storageClass;
    if (resolved.state === 'unknown') return [];
    return [{ claim, quoted: resolved.state === 'found' ? quoteClaim(context, claim, resolved.info) : undefined }];
  });
}

function mutateClaims(context: RuleContext): Mutation[] {
  const annotator = context.settings.quoteAnnotator;
  if (!annotator) return [];
  return claimQuotes(context).flatMap(({ claim, quoted }) => quoteMutation(context, annotator, quoted, claim) ?? []);
}

function validateClaims(context: RuleContext): Finding[] {
  const findings: Finding[] = [];
  for (const claim of context.claims) {
    const resolved = claim.storageClass;
    if (resolved.state !== 'unknown') continue;
    for (const policy of context.policies)
      findings.push(...lookupFailure(policy, classFieldPath(claim), `IOPS of class ${resolved.name}`, resolved.reason));
  }
  const quotes = claimQuotes(context).flatMap(({ quoted }) => quoted ?? []);
  for (const policy of context.policies) {
    for (const quoted of quotes) findings.push(...quoteFindings(quoted, policy));
    findings.push(...namespaceFindings(context, policy, quotes));
  }
  return findings;
}

function describe(policy: Policy, kind: GovernedKind): string[] {
  const iops = policy.iops;
  if (!iops) return [];
  const limits = [
    iops.maxPerVolume !== undefined ? `max ${iops.maxPerVolume} IOPS per volume` : '',
    iops.maxPerNamespace !== undefined ? `max ${iops.maxPerNamespace} IOPS per namespace` : '',
    iops.maxThroughputPerVolume !== undefined ? `max ${iops.maxThroughputPerVolume} MiB/s per volume` : '',
    iops.maxThroughputPerNamespace !== undefined ? `max ${iops.maxThroughputPerNamespace} MiB/s per namespace` : '',
  ].filter(Boolean);
  const quote = kind !== 'StorageClass' && iops.annotateQuote !== false ? ', quote annotated' : '';
  return [`EBS IOPS and throughput: driver limits checked${limits.length ? `, ${limits.join(', ')}` : ''}${quote}`];
}

/** A volume type's overridden limits in order (providerLimits.ebs): a min above the max fits no volume. */
function checkPolicy(policy: Policy): PolicyProblem[] {
  return Object.entries(policy.providerLimits?.ebs ?? {}).flatMap(([type, limits]) =>
    (
      [
        ['minGiB', 'maxGiB'],
        ['minIops', 'maxIops'],
      ] as const
    ).flatMap(([low, high]) => {
      const [min, max] = [limits[low], limits[high]];
      return min !== undefined && max !== undefined && min > max
        ? [{ path: ['spec', 'providerLimits', 'ebs', type, low], message: `${min} is larger than ${high} ${max}` }]
        : [];
    }),
  );
}

/**
 * Who writes the quote annotations (the highest-precedence IOPS policy with annotateQuote on), and each EBS type's
 * limits: the facts table, with the highest-precedence policy's providerLimits override for that type (fields it
 * leaves out keep the table's): one set of provider facts per object, whichever policy judges.
 */
export function composeIops(policies: readonly Policy[]): Pick<ComposedSettings, 'quoteAnnotator' | 'ebsLimitsFor'> {
  return {
    quoteAnnotator: policies.find((policy) => policy.iops !== undefined && policy.iops.annotateQuote !== false),
    ebsLimitsFor(type) {
      const owner = policies.find((policy) => policy.providerLimits?.ebs?.[type] !== undefined);
      const limits = owner?.providerLimits?.ebs?.[type];
      return ebsLimits(type, owner && limits ? { policy: owner.name, limits } : undefined);
    },
  };
}

export const iopsFamily: RuleFamily = {
  name: 'iops',
  sections: ['iops'],
  ruleIds: [
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
  ],
  factRules: [],
  mutations: [{ id: 'iops/quote', serves: [] }],
  claimFields: ['spec.resources', 'spec.storageClassName', 'spec.volumeAttributesClassName', 'metadata.annotations'],
  describe,
  validate: { ...forClaimKinds(validateClaims), StorageClass: validateStorageClass },
  mutate: { PersistentVolumeClaim: mutateClaims, StatefulSet: mutateClaims },
  checkPolicy,
  lint: { optInSections: ['providerLimits'] },
};
