import { buildCapabilityTable, conditionHolds } from '../core/capabilities.js';
import { globMatches } from '../core/selectors.js';
import type { SourceProblem } from '../io/yaml.js';
import type { ClusterLookup } from '../lookup/lookup.js';
import { pickClusterDefault } from '../core/storage.js';
import { isClusterScoped, TEMPLATE_KINDS } from '../core/kinds.js';
import { POLICY_SECTIONS, type Policy, type PolicyException, type RuleId } from '../policy/model.js';
import { configures, kindsOf } from '../rules/contract.js';
import { familyOfRule, RULE_FAMILIES } from '../rules/registry.js';

interface LintProblem extends SourceProblem {
  severity: 'error' | 'warning';
  check: string;
}

/** Why a policy can never report a rule, from what its family declares (kinds, sections, facts); undefined if it can. */
function whyNeverReported(policy: Policy, rule: RuleId): string | undefined {
  const family = familyOfRule(rule);
  if (!family) return undefined;
  const kinds = kindsOf(family);
  if (!kinds.some((kind) => policy.match.kinds.includes(kind)))
    return `${family.name} judges ${kinds.join(', ')} and match.kinds has none of them`;
  if (family.factRules.includes(rule) || configures(policy, family)) return undefined;
  return `the policy has no ${family.sections.join(' or ')} section`;
}

type Locate = (policy: Policy, path: Array<string | number>) => { line: number; column: number } | undefined;

function isGlob(pattern: string): boolean {
  return pattern.includes('*') || pattern.includes('?');
}

function literalPrefix(pattern: string): string {
  const wildcard = pattern.search(/[*?]/);
  return wildcard < 0 ? pattern : pattern.slice(0, wildcard);
}

/** Whether some namespace could match both patterns; globs against globs are judged by their literal prefixes. */
function patternsMayOverlap(a: string, b: string): boolean {
  if (!isGlob(a)) return globMatches(b, a);
  if (!isGlob(b)) return globMatches(a, b);
  const [pa, pb] = [literalPrefix(a), literalPrefix(b)];
  return pa.startsWith(pb) || pb.startsWith(pa);
}

function excluded(policy: Policy, namespace: string): boolean {
  return (policy.match.excludeNamespaces ?? []).some((pattern) => globMatches(pattern, namespace));
}

/** Whether two policies may govern a claim in the same namespace. Label selectors are assumed to overlap. */
function claimsMayOverlap(a: Policy, b: Policy): boolean {
  const kinds = a.match.kinds.filter((kind) => !isClusterScoped(kind) && b.match.kinds.includes(kind));
  if (kinds.length === 0) return false;
  const [na, nb] = [a.match.namespaces, b.match.namespaces];
  if (!na || !nb) {
    const listed = na ?? nb ?? [];
    const other = na ? b : a;
    // One policy names only exact namespaces and the other excludes all of them: no overlap.
    return !(listed.length > 0 && listed.every((namespace) => !isGlob(namespace) && excluded(other, namespace)));
  }
  const reachable = (pattern: string): boolean => isGlob(pattern) || (!excluded(a, pattern) && !excluded(b, pattern));
  return na.some((pa) => nb.some((pb) => patternsMayOverlap(pa, pb) && reachable(pa) && reachable(pb)));
}

/**
 * Checks across a policy set that the schema cannot make: defaults that conflict or would be denied,
 * classes the cluster does not have, settings that can never apply, and warn/audit rules nobody owns.
 */
export function lintPolicies(
  policies: readonly Policy[],
  options: { locate?: Locate; inventory?: ClusterLookup; now?: number; exceptions?: readonly PolicyException[] } = {},
): LintProblem[] {
  const problems: LintProblem[] = [];
  const report: Report = (severity, check, policy, path, message) => {
    problems.push({
      severity,
      check,
      file: policy.file,
      ...options.locate?.(policy, path),
      field: path.join('.').replace(/\.(\d+)/g, '[$1]'),
      message: `${message} [policy ${policy.name}]`,
    });
  };

  const withDefaults = policies.filter((policy) => policy.storageClasses?.defaults);
  for (let i = 0; i < withDefaults.length; i += 1) {
    for (let j = i + 1; j < withDefaults.length; j += 1) {
      const [a, b] = [withDefaults[i] as Policy, withDefaults[j] as Policy];
      if (
        JSON.stringify(a.storageClasses?.defaults) === JSON.stringify(b.storageClasses?.defaults) ||
        !claimsMayOverlap(a, b)
      )
        continue;
      report(
        'error',
        'conflicting-defaults',
        b,
        ['spec', 'storageClasses', 'defaults'],
        `policy ${a.name} (${a.file}) may govern the same claims and sets different defaults; narrow one's match.namespaces or exclude the other's namespaces`,
      );
    }
  }

  lintCombinations(policies, report);

  for (const policy of policies) {
    const governsClaims = policy.match.kinds.some((kind) => !isClusterScoped(kind));
    const governsClasses = policy.match.kinds.includes('StorageClass');
    for (const section of SETTING_SECTIONS) {
      const value = policy[section];
      if (value !== undefined && Object.keys(value).length === 0) {
        report(
          'warning',
          'empty-section',
          policy,
          ['spec', section],
          `${section} is empty: nothing is set (storageClasses: only the default missing-class warning applies); add the settings you meant or remove it`,
        );
      }
    }
    const classes = policy.storageClasses;
    if (classes?.allowed && classes.allowed.every((name) => classes.denied?.includes(name))) {
      report(
        'error',
        'no-admissible-class',
        policy,
        ['spec', 'storageClasses', 'denied'],
        `every class in allowed (${classes.allowed.join(', ')}) is also denied: every claim with a class is denied`,
      );
    }
    if (
      classes?.required &&
      !policy.match.kinds.some((kind) => TEMPLATE_KINDS.includes(kind)) &&
      classes.defaults?.some((choice) => !choice.whenAccessModes && !choice.whenVolumeMode)
    ) {
      report(
        'warning',
        'never-fires',
        policy,
        ['spec', 'storageClasses', 'required'],
        'a default without conditions gives every claim a class, so required never fires (it judges claim templates as written, and this policy governs no kind that carries them)',
      );
    }
    for (const section of POLICY_SECTIONS) {
      const kinds = [...new Set(RULE_FAMILIES.filter((family) => family.sections.includes(section)).flatMap(kindsOf))];
      if (policy[section] !== undefined && !kinds.some((kind) => policy.match.kinds.includes(kind))) {
        report(
          'error',
          'never-applies',
          policy,
          ['spec', section],
          `${section} judges ${kinds.join(', ')}; add one to match.kinds (${policy.match.kinds.join(', ')})`,
        );
      }
    }
    if (!governsClaims) {
      if (policy.storageClasses?.defaults || policy.storageClasses?.allowed)
        report(
          'error',
          'never-applies',
          policy,
          ['spec', 'storageClasses'],
          'defaults and allowed apply to claims, but match.kinds is only StorageClass',
        );
    }
    if (!governsClasses) {
      if (policy.storageClasses?.singleClusterDefault)
        report(
          'error',
          'never-applies',
          policy,
          ['spec', 'storageClasses', 'singleClusterDefault'],
          'judges StorageClasses; add StorageClass to match.kinds',
        );
      if (policy.zones?.addAllowedTopologies)
        report(
          'error',
          'never-applies',
          policy,
          ['spec', 'zones', 'addAllowedTopologies'],
          'mutates StorageClasses; add StorageClass to match.kinds',
        );
    }
    const names = policy.match.namespaces;
    if (governsClaims && names && names.length > 0 && names.every((name) => !isGlob(name) && excluded(policy, name))) {
      report(
        'error',
        'never-applies',
        policy,
        ['spec', 'match', 'namespaces'],
        'every listed namespace is also in excludeNamespaces',
      );
    }
    for (const rule of Object.keys(policy.rules) as RuleId[]) {
      const why = whyNeverReported(policy, rule);
      if (why) report('warning', 'never-fires', policy, ['spec', 'rules', rule], `${why}, so ${rule} never fires`);
    }
    if (policy.enforceFrom !== undefined && Date.parse(policy.enforceFrom) <= (options.now ?? Date.now())) {
      report(
        'warning',
        'enforce-from-past',
        policy,
        ['spec', 'enforceFrom'],
        `${policy.enforceFrom} has passed: the policy denies now; remove enforceFrom`,
      );
    }
    const softened = policy.action !== 'deny' || Object.values(policy.rules).some((action) => action !== 'deny');
    if (softened && !policy.owner) {
      report(
        'warning',
        'owner',
        policy,
        ['metadata'],
        'warn and audit rules need someone to act on them: add the annotation storage-policy-webhook.io/owner',
      );
    }
    if (options.inventory) lintAgainstInventory(policy, options.inventory, report);
  }
  problems.push(...lintExceptions(policies, options.exceptions ?? [], options.now ?? Date.now()));
  return problems;
}

/**
 * Settings of two policies that may govern the same claims and leave nothing admissible: every claim or
 * StatefulSet there would be denied by one of them (rules/zones.ts, composeZones, intersects them). Pairs only: three
 * lists can be pairwise compatible and still share nothing, which the webhook then reports per claim.
 */
function lintCombinations(policies: readonly Policy[], report: Report): void {
  for (const [i, a] of policies.entries()) {
    for (const b of policies.slice(i + 1)) {
      if (!claimsMayOverlap(a, b)) continue;
      const [zonesA, zonesB] = [a.zones?.allowed, b.zones?.allowed];
      if (zonesA && zonesB && !zonesA.some((zone) => zonesB.includes(zone))) {
        report(
          'error',
          'no-admissible-zone',
          b,
          ['spec', 'zones', 'allowed'],
          `no zone is allowed by both this policy and ${a.name} (${zonesA.join(', ')}); claims and StatefulSets governed by both are always denied`,
        );
      }
      const [classesA, classesB] = [a.storageClasses?.allowed, b.storageClasses?.allowed];
      if (classesA && classesB && !classesA.some((name) => classesB.includes(name))) {
        report(
          'error',
          'no-admissible-class',
          b,
          ['spec', 'storageClasses', 'allowed'],
          `no class is allowed by both this policy and ${a.name} (${classesA.join(', ')}); every claim governed by both is denied`,
        );
      }
      for (const [owner, other] of [
        [a, b],
        [b, a],
      ] as const) {
        const allowed = other.storageClasses?.allowed;
        (owner.storageClasses?.defaults ?? []).forEach((choice, index) => {
          if (!allowed || allowed.includes(choice.class)) return;
          report(
            'error',
            'default-forbidden',
            owner,
            ['spec', 'storageClasses', 'defaults', index, 'class'],
            `default class ${choice.class} is not allowed by policy ${other.name} (${allowed.join(', ')}), which governs the same claims; the webhook passes it over`,
          );
        });
      }
    }
  }
}

/**
 * Sections whose settings are all opt-in, so an empty one is a mistake. (An empty accessModes, iops or
 * capacity section is meaningful: it turns that family's checks on with their defaults.)
 */
const SETTING_SECTIONS = ['storageClasses', 'providerLimits', 'classRequirements'] as const;

type Report = (
  severity: LintProblem['severity'],
  check: string,
  policy: Policy,
  path: Array<string | number>,
  message: string,
) => void;

function lintAgainstInventory(policy: Policy, inventory: ClusterLookup, report: Report): void {
  const capabilities = buildCapabilityTable(policy.accessModes?.capabilities);
  const classes = inventory.storageClasses();
  const clusterDefault = classes.known ? pickClusterDefault(classes.value) : undefined;
  if (policy.storageClasses?.required && clusterDefault && policy.match.kinds.includes('PersistentVolumeClaim')) {
    report(
      'warning',
      'required-unenforceable',
      policy,
      ['spec', 'storageClasses', 'required'],
      `the cluster default class ${clusterDefault.name} is set on claims by the API server before any webhook sees them, so required is enforced on StatefulSet templates only`,
    );
  }
  (policy.storageClasses?.allowed ?? []).forEach((name, index) => {
    const found = inventory.storageClass(name);
    if (found.known && !found.value)
      report(
        'error',
        'unknown-class',
        policy,
        ['spec', 'storageClasses', 'allowed', index],
        `class ${name} is not in the inventory`,
      );
  });
  (policy.storageClasses?.defaults ?? []).forEach((choice, index) => {
    const path = ['spec', 'storageClasses', 'defaults', index, 'class'];
    const found = inventory.storageClass(choice.class);
    if (!found.known) return;
    const storageClass = found.value;
    if (!storageClass)
      return report(
        'error',
        'unknown-class',
        policy,
        path,
        `default class ${choice.class} is not in the inventory: defaulted claims would stay Pending`,
      );
    const allowedZones = policy.zones?.allowed;
    if (allowedZones) {
      const outside = storageClass.zones?.filter((zone) => !allowedZones.includes(zone));
      if (outside && outside.length > 0)
        report(
          'error',
          'zones',
          policy,
          path,
          `default class ${choice.class} can provision in ${outside.join(', ')}, outside the policy's zones ${allowedZones.join(', ')}`,
        );
      if (!storageClass.zones && storageClass.volumeBindingMode === 'Immediate')
        report(
          'error',
          'zones',
          policy,
          path,
          `default class ${choice.class} binds Immediately with no zone restriction: defaulted claims would be denied by zones/claim-class`,
        );
    }
    const entry = capabilities.get(storageClass.provisioner);
    if (policy.accessModes && entry) {
      for (const mode of choice.whenAccessModes ?? []) {
        const conditional = entry.conditional?.find((candidate) => candidate.mode === mode);
        const served =
          entry.modes.includes(mode) ||
          (conditional !== undefined &&
            conditionHolds(conditional, choice.whenVolumeMode ?? 'Filesystem', storageClass.parameters));
        if (!served)
          report(
            'error',
            'access-modes',
            policy,
            path,
            `default class ${choice.class} (${storageClass.provisioner}) does not serve ${mode}, which this choice is for`,
          );
      }
    }
  });
}

/** Does some name match both lists of names or globs (absent: any)? */
function listsMayOverlap(a: readonly string[] | undefined, b: readonly string[] | undefined): boolean {
  if (!a || !b) return true;
  return a.some((pa) => b.some((pb) => patternsMayOverlap(pa, pb)));
}

/** Exceptions that name what does not exist, have run out, or cover what another already covers. */
function lintExceptions(
  policies: readonly Policy[],
  exceptions: readonly PolicyException[],
  now: number,
): LintProblem[] {
  const problems: LintProblem[] = [];
  const report = (
    severity: LintProblem['severity'],
    check: string,
    exception: PolicyException,
    field: string,
    message: string,
  ): void => {
    problems.push({
      severity,
      check,
      file: exception.file,
      field,
      message: `${message} [exception ${exception.name}]`,
    });
  };
  exceptions.forEach((exception, index) => {
    if (exception.expiresAt !== undefined && Date.parse(exception.expiresAt) <= now)
      report(
        'warning',
        'exception-expired',
        exception,
        'spec.expiresAt',
        `expired ${exception.expiresAt}: it exempts nothing; remove it`,
      );
    exception.policies.forEach((entry, entryIndex) => {
      const policy = policies.find((candidate) => candidate.name === entry.name);
      if (!policy)
        return report(
          'error',
          'exception-unknown-policy',
          exception,
          `spec.policies[${entryIndex}].name`,
          `no policy ${entry.name} in the set`,
        );
      for (const rule of entry.rules ?? []) {
        const why = whyNeverReported(policy, rule);
        if (why)
          report(
            'warning',
            'exception-never-applies',
            exception,
            `spec.policies[${entryIndex}].rules`,
            `policy ${entry.name}: ${why}, so it never reports ${rule}`,
          );
      }
    });
    for (const other of exceptions.slice(index + 1)) {
      const shared = exception.policies.filter((entry) =>
        other.policies.some(
          (theirs) =>
            theirs.name === entry.name &&
            (!entry.rules || !theirs.rules || entry.rules.some((rule) => theirs.rules?.includes(rule))),
        ),
      );
      const kinds =
        !exception.match.kinds ||
        !other.match.kinds ||
        exception.match.kinds.some((kind) => other.match.kinds?.includes(kind));
      if (
        shared.length > 0 &&
        kinds &&
        listsMayOverlap(exception.match.namespaces, other.match.namespaces) &&
        listsMayOverlap(exception.match.names, other.match.names)
      ) {
        report(
          'warning',
          'exception-overlap',
          exception,
          'spec.match',
          `may cover the same objects and rules of ${shared.map((entry) => entry.name).join(', ')} as exception ${other.name}: one owner per exemption`,
        );
      }
    }
  });
  return problems;
}
