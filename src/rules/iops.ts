import { parameterValue } from '../core/capabilities.js';
import { iopsLimitsFor, isEbsProvisioner, parsePositiveInteger, quoteIops, readEbsClass, typesTakingIops, type IopsQuote } from '../core/ebs.js';
import { pointer, setAt, type PatchOperation } from '../core/patch.js';
import { formatGiB, roundUpGiB } from '../core/quantity.js';
import { claimPath, readStorageClass, type Claim, type StorageClassInfo } from '../core/storage.js';
import { emptyResult, type Finding, type Mutation, type RuleContext, type RuleFamily, type RuleResult } from './contract.js';
import type { Policy } from '../policy/model.js';
import { classFieldPath, listOf, lookupFailure } from './common.js';

export const IOPS_QUOTE_ANNOTATION = 'storage-policy-webhook.io/provisioned-iops';

/** The exact spelling the class uses for a parameter, since EBS parameter names are case-insensitive. */
function parameterPath(parameters: Record<string, string>, key: string): string {
  const spelled = Object.keys(parameters).find((name) => name.toLowerCase() === key.toLowerCase()) ?? key;
  return `parameters.${spelled}`;
}

function storageClassFindings(context: RuleContext, policy: Policy): Finding[] {
  const storageClass = readStorageClass(context.object);
  if (!isEbsProvisioner(storageClass.provisioner)) return [];
  const settings = readEbsClass(storageClass.provisioner, storageClass.parameters);
  const findings: Finding[] = [];
  const perGiBPath = parameterPath(storageClass.parameters, 'iopsPerGB');
  const types = typesTakingIops(storageClass.provisioner);
  if (settings.iopsPerGBText !== undefined) {
    const perGiB = parsePositiveInteger(settings.iopsPerGBText);
    if (perGiB === undefined) {
      findings.push({
        rule: 'iops/per-gb-format',
        policy,
        path: perGiBPath,
        message: `"${settings.iopsPerGBText}" is not a plain positive integer string; write it like iopsPerGB: "50"`,
        severity: 'violation',
      });
    }
    if (!types.includes(settings.type)) {
      findings.push({
        rule: 'iops/per-gb-type',
        policy,
        path: perGiBPath,
        message: `${storageClass.provisioner} ignores iopsPerGB on type ${settings.type}; it applies to ${listOf(types)}`,
        severity: 'violation',
      });
    }
    const limits = iopsLimitsFor(settings.type, settings.blockExpress);
    if (perGiB !== undefined && limits && types.includes(settings.type) && perGiB > limits.maxPerGiB) {
      findings.push({
        rule: 'iops/per-gb-maximum',
        policy,
        path: perGiBPath,
        message: `${perGiB} exceeds the ${settings.type} maximum of ${limits.maxPerGiB} IOPS per GiB; use at most "${limits.maxPerGiB}"`,
        severity: 'violation',
      });
    }
    if (settings.iopsText !== undefined) {
      findings.push({
        rule: 'iops/iops-and-per-gb',
        policy,
        path: parameterPath(storageClass.parameters, 'iops'),
        message: 'iops and iopsPerGB together is an error in the EBS driver; keep one',
        severity: 'violation',
      });
    }
  } else if (settings.iopsText !== undefined && parameterValue(storageClass.parameters, 'iops') !== undefined && parsePositiveInteger(settings.iopsText) === undefined) {
    findings.push({
      rule: 'iops/per-gb-format',
      policy,
      path: parameterPath(storageClass.parameters, 'iops'),
      message: `"${settings.iopsText}" is not a plain positive integer string`,
      severity: 'violation',
    });
  }
  return findings;
}

interface ClaimQuote {
  claim: Claim;
  storageClass: StorageClassInfo;
  gib: number;
  quote: IopsQuote;
}

function quoteClaim(claim: Claim, storageClass: StorageClassInfo): ClaimQuote | undefined {
  if (!isEbsProvisioner(storageClass.provisioner) || claim.requestBytes === undefined || claim.requestBytes <= 0) return undefined;
  const gib = roundUpGiB(claim.requestBytes);
  return { claim, storageClass, gib, quote: quoteIops(readEbsClass(storageClass.provisioner, storageClass.parameters), gib) };
}

function describeRequest(quoted: ClaimQuote): string {
  const settings = readEbsClass(quoted.storageClass.provisioner, quoted.storageClass.parameters);
  return settings.iopsPerGBText !== undefined ? `${formatGiB(quoted.gib)} x iopsPerGB ${settings.iopsPerGBText}` : `iops ${settings.iopsText ?? ''}`;
}

function quoteFindings(quoted: ClaimQuote, policy: Policy): Finding[] {
  const { claim, quote, storageClass } = quoted;
  const path = claimPath(claim, 'spec', 'resources', 'requests', 'storage');
  const settings = readEbsClass(storageClass.provisioner, storageClass.parameters);
  if (quote.outcome === 'fails') {
    const perGiB = settings.iopsPerGBText === undefined ? undefined : parsePositiveInteger(settings.iopsPerGBText);
    const enough = perGiB ? ` request at least ${formatGiB(Math.ceil(quote.minimum / perGiB))} or` : '';
    return [
      {
        rule: 'iops/below-minimum',
        policy,
        path,
        message: `${describeRequest(quoted)} = ${quote.requested} IOPS is below the ${settings.type} minimum of ${quote.minimum}: the driver would fail and the claim stay Pending;${enough} use a class with allowAutoIOPSPerGBIncrease: "true"`,
        severity: 'violation',
      },
    ];
  }
  if (quote.outcome !== 'provisioned') return [];
  const findings: Finding[] = [];
  if (quote.adjustment !== 'none') {
    const how = quote.adjustment === 'raised-to-minimum' ? 'raised to the minimum' : quote.adjustment === 'capped-per-gib' ? 'capped by the per-GiB maximum' : `capped at the ${settings.type} maximum`;
    findings.push({ rule: 'iops/adjusted', policy, path, message: `${describeRequest(quoted)} = ${quote.requested} IOPS; the driver provisions ${quote.iops} (${how})`, severity: 'advice' });
  }
  const maxPerVolume = policy.iops?.maxPerVolume;
  if (maxPerVolume !== undefined && quote.iops > maxPerVolume) {
    findings.push({
      rule: 'iops/volume-budget',
      policy,
      path,
      message: `${quote.iops} provisioned IOPS exceed the per-volume budget of ${maxPerVolume}; request a smaller volume or use a class with fewer IOPS per GiB`,
      severity: 'violation',
    });
  }
  return findings;
}

/** The claims' names an object stands for, so the namespace sum does not count them twice. */
function claimNames(context: RuleContext): Set<string> {
  const names = new Set<string>();
  for (const claim of context.claims) {
    if (claim.templateName === undefined) names.add(claim.name);
    else for (let ordinal = 0; ordinal < claim.copies; ordinal += 1) names.add(claim.name.replace(/-0$/, `-${ordinal}`));
  }
  return names;
}

function namespaceFindings(context: RuleContext, policy: Policy, quotes: ClaimQuote[]): Finding[] {
  const maxPerNamespace = policy.iops?.maxPerNamespace;
  const first = quotes[0];
  if (maxPerNamespace === undefined || !first) return [];
  const added = quotes.reduce((sum, quoted) => sum + (quoted.quote.outcome === 'provisioned' ? quoted.quote.iops * quoted.claim.copies : 0), 0);
  if (added === 0) return [];
  const path = claimPath(first.claim, 'spec', 'resources', 'requests', 'storage');
  const existing = context.lookup.namespaceProvisionedIops(context.namespace, claimNames(context));
  if (!existing.known) return lookupFailure(policy, path, `namespace IOPS budget of ${context.namespace}`, existing.reason);
  const total = existing.value + added;
  if (total <= maxPerNamespace) return [];
  return [
    {
      rule: 'iops/namespace-budget',
      policy,
      path,
      message: `namespace ${context.namespace} would provision ${total} IOPS (${existing.value} existing + ${added} new), over its budget of ${maxPerNamespace}; free IOPS or ask for a larger budget`,
      severity: 'violation',
    },
  ];
}

/**
 * The quote goes on claims only: a template's claims get theirs when the StatefulSet controller creates
 * them, and a template keeps what its owner wrote (docs/reapply.md). A claim's metadata is mutable, so the
 * quote is derived again on UPDATE, and a re-apply that drops it gets it back.
 */
function quoteMutation(context: RuleContext, policy: Policy, quoted: ClaimQuote | undefined, claim: Claim): Mutation | undefined {
  if (claim.templateName !== undefined) return undefined;
  const existing = claim.annotations[IOPS_QUOTE_ANNOTATION];
  const iops = quoted?.quote.outcome === 'provisioned' ? String(quoted.quote.iops) : undefined;
  if (existing === iops) return undefined;
  let patch: PatchOperation[];
  let note: string;
  if (iops === undefined) {
    patch = [{ op: 'remove', path: pointer('metadata', 'annotations', IOPS_QUOTE_ANNOTATION) }];
    note = 'provisioned-iops annotation removed: the class provisions no IOPS';
  } else {
    patch = [setAt(context.object, ['metadata', 'annotations', IOPS_QUOTE_ANNOTATION], iops)];
    note = `provisioned-iops annotation ${iops} (${quoted ? describeRequest(quoted) : ''})`;
  }
  return { rule: 'iops/quote', policy, patch, note };
}

function evaluate(context: RuleContext): RuleResult {
  const result = emptyResult();
  const iopsPolicies = context.policies.filter((policy) => policy.iops !== undefined);
  if (context.kind === 'StorageClass') {
    for (const policy of iopsPolicies) result.findings.push(...storageClassFindings(context, policy));
    return result;
  }
  const quotes: ClaimQuote[] = [];
  const annotator = context.settings.quoteAnnotator;
  for (const claim of context.claims) {
    const resolved = claim.storageClass;
    if (resolved.state === 'unknown') {
      for (const policy of iopsPolicies) result.findings.push(...lookupFailure(policy, classFieldPath(claim), `IOPS of class ${resolved.name}`, resolved.reason));
      continue;
    }
    const quoted = resolved.state === 'found' ? quoteClaim(claim, resolved.info) : undefined;
    if (quoted) quotes.push(quoted);
    const mutation = annotator ? quoteMutation(context, annotator, quoted, claim) : undefined;
    if (mutation) result.mutations.push(mutation);
  }
  if (context.phase === 'mutate') return result;
  for (const policy of iopsPolicies) {
    for (const quoted of quotes) result.findings.push(...quoteFindings(quoted, policy));
    result.findings.push(...namespaceFindings(context, policy, quotes));
  }
  return result;
}

export const iopsFamily: RuleFamily = {
  name: 'iops',
  sections: ['iops'],
  ruleIds: ['iops/per-gb-format', 'iops/per-gb-type', 'iops/per-gb-maximum', 'iops/iops-and-per-gb', 'iops/below-minimum', 'iops/adjusted', 'iops/volume-budget', 'iops/namespace-budget'],
  kinds: ['PersistentVolumeClaim', 'StatefulSet', 'StorageClass'],
  mutates: true,
  evaluate,
};
