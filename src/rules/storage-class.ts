import { buildCapabilityTable, conditionHolds } from '../core/capabilities.js';
import { setAt } from '../core/patch.js';
import {
  DEFAULT_CLASS_ANNOTATION,
  BETA_DEFAULT_CLASS_ANNOTATION,
  pickClusterDefault,
  readStorageClass,
  type Claim,
} from '../core/storage.js';
import { type GovernedKind, isClusterScoped, TEMPLATE_KINDS } from '../core/kinds.js';
import { stringAt, stringMapAt } from '../core/json.js';
import {
  type ComposedSettings,
  type FamilyLint,
  type Finding,
  type Mutation,
  type ReviewedClaim,
  type RuleContext,
  type RuleFamily,
} from './contract.js';
import type { DefaultClassChoice, Policy, PolicyProblem } from '../policy/model.js';
import { classFieldPath, forClaimKinds, intersection, listOf, lookupFailure, supplier, violation } from './common.js';

function describeChoice(choice: DefaultClassChoice): string {
  const conditions = [
    choice.whenAccessModes ? `claims asking for ${listOf(choice.whenAccessModes)}` : undefined,
    choice.whenVolumeMode ? `volumeMode ${choice.whenVolumeMode}` : undefined,
  ].filter((part) => part !== undefined);
  return conditions.length > 0 ? ` for ${conditions.join(' with ')}` : '';
}

function origin(claim: ReviewedClaim): string {
  if (claim.storageClass.state === 'no-class' || claim.storageClass.origin === 'written') return '';
  return claim.storageClass.origin === 'cluster-default'
    ? ' (the cluster default it gets when created)'
    : ' (the default it gets when created)';
}

/**
 * A claim created with no class gets the policies' default. Only a PersistentVolumeClaim: a template
 * keeps what its owner wrote, and its claims get the default when the StatefulSet controller creates
 * them (docs/reapply.md). Only a claim with no class at all: "" asks for no dynamic provisioning.
 */
function defaultMutation(context: RuleContext, claim: ReviewedClaim): Mutation | undefined {
  if (context.operation !== 'CREATE' || claim.templateName !== undefined || claim.classSource !== 'unset')
    return undefined;
  const picked = context.settings.defaultClassFor(claim);
  if (!picked || claim.storageClass.state === 'no-class' || claim.storageClass.origin !== 'policy-default')
    return undefined;
  return {
    rule: 'storage-class/default',
    policy: picked.policy,
    patch: [setAt(context.object, ['spec', 'storageClassName'], picked.choice.class)],
    note: `spec.storageClassName set to ${picked.choice.class} (default${describeChoice(picked.choice)})`,
  };
}

/**
 * A claim's class is immutable once set. A manifest that never named one (the class came from a default)
 * re-applied with `kubectl replace` or server-side apply drops the field, and the API server would refuse
 * the update; putting back what oldObject had keeps the manifest's owner able to apply it.
 */
function restoreMutation(context: RuleContext, claim: ReviewedClaim): Mutation | undefined {
  if (context.operation !== 'UPDATE' || claim.templateName !== undefined || claim.classSource !== 'unset')
    return undefined;
  const previous = stringAt(context.oldObject, 'spec', 'storageClassName');
  const policy = context.governing[0];
  if (previous === undefined || !policy) return undefined;
  return {
    rule: 'storage-class/restore',
    policy,
    patch: [setAt(context.object, ['spec', 'storageClassName'], previous)],
    note: `spec.storageClassName kept as ${previous || '""'} (immutable; the manifest does not name a class)`,
  };
}

/**
 * A claim naming a class the policies forbid is rewritten to the fallback (Kubewarden's fallbackStorageClass)
 * instead of denied, when the claim is then admitted (the engine drops the rewrite otherwise: a fallback class
 * that cannot serve the claim's access modes, zones or IOPS would only move the denial). PersistentVolumeClaims
 * on CREATE only: a template is never written, and an existing claim's class is immutable.
 */
function fallbackMutation(context: RuleContext, claim: ReviewedClaim): Mutation | undefined {
  const fallback = context.settings.fallback;
  if (
    !fallback ||
    context.operation !== 'CREATE' ||
    claim.templateName !== undefined ||
    claim.classSource !== 'field' ||
    !claim.className
  )
    return undefined;
  if (context.settings.classAccepted(claim.className)) return undefined;
  // Rewriting to a class the cluster does not have would trade a denial for a claim Pending forever.
  const target = context.lookup.storageClass(fallback.class);
  if (target.known && target.value === undefined) return undefined;
  return {
    rule: 'storage-class/fallback',
    policy: fallback.policy,
    patch: [setAt(context.object, ['spec', 'storageClassName'], fallback.class)],
    note: `spec.storageClassName ${claim.className} is not allowed here: set to ${fallback.class} (fallback)`,
    onlyIfAdmitted: true,
  };
}

/** What to name instead: only classes every governing policy accepts, so the advice is never itself denied. */
function useInstead(context: RuleContext): string {
  const admissible = context.settings.admissibleClasses;
  if (admissible === undefined) return '';
  if (admissible.length === 0)
    return '; no class is accepted by every policy that governs this namespace (their allowed and denied lists exclude each other)';
  return `; use one of ${listOf(admissible)}`;
}

function classFindings(context: RuleContext, claim: ReviewedClaim, policy: Policy): Finding[] {
  const settings = policy.storageClasses;
  if (!settings) return [];
  const path = classFieldPath(claim);
  const resolved = claim.storageClass;
  if (resolved.state === 'no-class') {
    if (claim.classSource === 'none') {
      return settings.emptyClass === 'deny'
        ? [
            violation(
              'storage-class/empty-class',
              policy,
              path,
              'storageClassName "" (no dynamic provisioning) is not allowed here; name a class',
            ),
          ]
        : [];
    }
    if (!settings.required) return [];
    return [violation('storage-class/required', policy, path, `a storageClassName is required${useInstead(context)}`)];
  }
  const findings: Finding[] = [];
  // A template is judged as written: Gatekeeper's and Kyverno's required-class policies deny one without a class,
  // although the claims it creates would get a default (a claim gets the cluster default before any webhook runs).
  if (settings.required && claim.templateName !== undefined && claim.classSource === 'unset') {
    findings.push(
      violation(
        'storage-class/required',
        policy,
        path,
        `a storageClassName is required in the template, not left to ${resolved.name}${origin(claim)}${useInstead(context)}`,
      ),
    );
  }
  const className = resolved.name;
  const allowed = settings.allowed;
  if (allowed && !allowed.includes(className)) {
    findings.push(
      violation(
        'storage-class/allowed',
        policy,
        path,
        `class ${className}${origin(claim)} is not allowed here${useInstead(context)}`,
      ),
    );
  }
  if (settings.denied?.includes(className)) {
    findings.push(
      violation(
        'storage-class/denied',
        policy,
        path,
        `class ${className}${origin(claim)} is denied here${useInstead(context)}`,
      ),
    );
  }
  const missing = settings.missingClass ?? 'warn';
  if (resolved.state === 'missing' && missing !== 'allow') {
    findings.push(
      violation(
        'storage-class/missing',
        policy,
        path,
        `StorageClass ${className} does not exist: the claim stays Pending until it does`,
        missing,
      ),
    );
  }
  if (resolved.state === 'unknown' && missing !== 'allow')
    findings.push(...lookupFailure(policy, path, `whether class ${className} exists`, resolved.reason));
  return findings;
}

function mutateClaims(context: RuleContext): Mutation[] {
  return context.claims.flatMap(
    (claim) =>
      defaultMutation(context, claim) ?? restoreMutation(context, claim) ?? fallbackMutation(context, claim) ?? [],
  );
}

function validateClaims(context: RuleContext): Finding[] {
  return context.claims.flatMap((claim) => context.policies.flatMap((policy) => classFindings(context, claim, policy)));
}

/**
 * A statically provisioned volume binds only claims of its class, so the class lists apply to it as to them (not the
 * defaults, the fallback or required: a volume without a class binds claims that ask for none).
 */
function validateVolume(context: RuleContext): Finding[] {
  const volume = context.volume;
  const className = volume?.className;
  if (!volume || volume.provisioned || !className) return [];
  return context.policies.flatMap((policy) => {
    const settings = policy.storageClasses;
    const findings: Finding[] = [];
    if (settings?.allowed && !settings.allowed.includes(className))
      findings.push(
        violation(
          'storage-class/allowed',
          policy,
          volume.classPath,
          `class ${className} is not allowed here: claims could bind this volume only by asking for it${useInstead(context)}`,
        ),
      );
    if (settings?.denied?.includes(className))
      findings.push(
        violation(
          'storage-class/denied',
          policy,
          volume.classPath,
          `class ${className} is denied here${useInstead(context)}`,
        ),
      );
    return findings;
  });
}

function validateStorageClass(context: RuleContext): Finding[] {
  const findings: Finding[] = [];
  const storageClass = readStorageClass(context.object);
  if (!storageClass.isDefault) return findings;
  const annotations = stringMapAt(context.object, 'metadata', 'annotations');
  const annotation =
    annotations[DEFAULT_CLASS_ANNOTATION] === 'true' ? DEFAULT_CLASS_ANNOTATION : BETA_DEFAULT_CLASS_ANNOTATION;
  const path = `metadata.annotations[${annotation}]`;
  for (const policy of context.policies) {
    if (!policy.storageClasses?.singleClusterDefault) continue;
    const classes = context.lookup.storageClasses();
    if (!classes.known) {
      findings.push(...lookupFailure(policy, path, 'single cluster default', classes.reason));
      continue;
    }
    const others = classes.value.filter((other) => other.isDefault && other.name !== storageClass.name);
    const current = pickClusterDefault(others);
    if (!current) continue;
    const already =
      others.length === 1
        ? `${current.name} is already the cluster default`
        : `${listOf(others.map((other) => other.name))} are already defaults (the API server uses ${current.name}, the newest)`;
    findings.push(
      violation(
        'storage-class/single-default',
        policy,
        path,
        `${already}; set ${annotation} to "false" on ${others.length === 1 ? 'it' : 'them'} first, or leave this class non-default`,
      ),
    );
  }
  return findings;
}

function describe(policy: Policy, kind: GovernedKind, governing: readonly Policy[]): string[] {
  const classes = policy.storageClasses;
  if (!classes) return [];
  if (kind === 'StorageClass') return classes.singleClusterDefault ? ['at most one cluster default StorageClass'] : [];
  if (kind === 'PersistentVolume')
    return [
      `static volumes of an allowed class only${classes.allowed ? ` (${listOf(classes.allowed)})` : ''}${classes.denied ? `, never ${listOf(classes.denied)}` : ''}`,
    ];
  const lines: string[] = [];
  if (classes.defaults) {
    const choices = classes.defaults.map((choice) => {
      const when = choice.whenAccessModes
        ? `${choice.whenAccessModes.join('/')} -> `
        : choice.whenVolumeMode
          ? `${choice.whenVolumeMode} -> `
          : 'otherwise -> ';
      return `${when}${choice.class}`;
    });
    lines.push(
      `default class: ${choices.join(', ')} (${supplier(policy, governing, (candidate) => candidate.storageClasses?.defaults !== undefined)})`,
    );
  }
  if (classes.allowed) lines.push(`allowed classes: ${listOf(classes.allowed)}`);
  if (classes.denied) lines.push(`denied classes: ${listOf(classes.denied)}`);
  if (classes.required) lines.push('a class is required (claims that end with none are denied)');
  lines.push(
    `storageClassName "": ${classes.emptyClass ?? 'allow'}; a class the cluster lacks: ${classes.missingClass ?? 'warn'}`,
  );
  if (kind === 'PersistentVolumeClaim' && classes.fallback)
    lines.push(`a forbidden class is rewritten to ${classes.fallback} on CREATE`);
  return lines;
}

/** A class the policy writes (a default, the fallback) that it forbids itself: the webhook would deny its own patch. */
function checkPolicy(policy: Policy): PolicyProblem[] {
  const classes = policy.storageClasses;
  const forbiddenBySelf = (name: string): string | undefined => {
    if (classes?.allowed && !classes.allowed.includes(name))
      return `is not in storageClasses.allowed (${classes.allowed.join(', ')})`;
    if (classes?.denied?.includes(name)) return 'is in storageClasses.denied';
    return undefined;
  };
  const problems = (classes?.defaults ?? []).flatMap((choice, index) => {
    const why = forbiddenBySelf(choice.class);
    return why
      ? [
          {
            path: ['spec', 'storageClasses', 'defaults', index, 'class'],
            message: `default class "${choice.class}" ${why}: every defaulted claim would be denied`,
          },
        ]
      : [];
  });
  const fallback = classes?.fallback;
  const fallbackWhy = fallback === undefined ? undefined : forbiddenBySelf(fallback);
  if (fallbackWhy)
    problems.push({
      path: ['spec', 'storageClasses', 'fallback'],
      message: `fallback class "${fallback}" ${fallbackWhy}: every rewritten claim would be denied`,
    });
  return problems;
}

function choiceApplies(choice: DefaultClassChoice, claim: Claim): boolean {
  if (choice.whenVolumeMode && choice.whenVolumeMode !== claim.volumeMode) return false;
  if (choice.whenAccessModes && !choice.whenAccessModes.some((mode) => claim.accessModes.includes(mode))) return false;
  return true;
}

/**
 * How the governing policies' classes combine (`policies` in precedence order): allowed lists intersect, denied
 * lists add up; a default is the first applicable choice, in precedence order, whose class those accept (a
 * higher-priority default another policy forbids is passed over); the fallback likewise, so the webhook never
 * writes a class one of the policies would deny.
 */
export function composeClasses(
  policies: readonly Policy[],
): Pick<ComposedSettings, 'admissibleClasses' | 'classAccepted' | 'fallback' | 'defaultClassFor'> {
  const allowedClasses = intersection(
    policies.flatMap((policy) => (policy.storageClasses?.allowed ? [policy.storageClasses.allowed] : [])),
  );
  const deniedClasses = [...new Set(policies.flatMap((policy) => policy.storageClasses?.denied ?? []))];
  const classAccepted = (name: string): boolean =>
    (!allowedClasses || allowedClasses.includes(name)) && !deniedClasses.includes(name);
  const fallbackOwner = policies.find(
    (policy) => policy.storageClasses?.fallback !== undefined && classAccepted(policy.storageClasses.fallback),
  );
  return {
    admissibleClasses: allowedClasses?.filter((name) => !deniedClasses.includes(name)),
    classAccepted,
    fallback: fallbackOwner?.storageClasses?.fallback
      ? { policy: fallbackOwner, class: fallbackOwner.storageClasses.fallback }
      : undefined,
    defaultClassFor(claim) {
      for (const policy of policies) {
        for (const choice of policy.storageClasses?.defaults ?? []) {
          if (!choiceApplies(choice, claim)) continue;
          if (!classAccepted(choice.class)) continue;
          return { policy, choice };
        }
      }
      return undefined;
    },
  };
}

/** Lint: classes and defaults that leave nothing admissible, can never apply, or the inventory cannot serve. */
const storageClassLint: FamilyLint = {
  optInSections: ['storageClasses'],
  policy(policy, report) {
    const classes = policy.storageClasses;
    if (classes?.allowed && classes.allowed.every((name) => classes.denied?.includes(name)))
      report(
        'error',
        'no-admissible-class',
        policy,
        ['spec', 'storageClasses', 'denied'],
        `every class in allowed (${classes.allowed.join(', ')}) is also denied: every claim with a class is denied`,
      );
    if (
      classes?.required &&
      !policy.match.kinds.some((kind) => TEMPLATE_KINDS.includes(kind)) &&
      classes.defaults?.some((choice) => !choice.whenAccessModes && !choice.whenVolumeMode)
    )
      report(
        'warning',
        'never-fires',
        policy,
        ['spec', 'storageClasses', 'required'],
        'a default without conditions gives every claim a class, so required never fires (it judges claim templates as written, and this policy governs no kind that carries them)',
      );
    if (!policy.match.kinds.some((kind) => !isClusterScoped(kind)) && (classes?.defaults || classes?.allowed))
      report(
        'error',
        'never-applies',
        policy,
        ['spec', 'storageClasses'],
        'defaults and allowed apply to claims, but match.kinds is only StorageClass',
      );
    if (!policy.match.kinds.includes('StorageClass') && classes?.singleClusterDefault)
      report(
        'error',
        'never-applies',
        policy,
        ['spec', 'storageClasses', 'singleClusterDefault'],
        'judges StorageClasses; add StorageClass to match.kinds',
      );
  },
  pair(a, b, report) {
    const [defaultsA, defaultsB] = [a.storageClasses?.defaults, b.storageClasses?.defaults];
    if (defaultsA && defaultsB && JSON.stringify(defaultsA) !== JSON.stringify(defaultsB))
      report(
        'error',
        'conflicting-defaults',
        b,
        ['spec', 'storageClasses', 'defaults'],
        `policy ${a.name} (${a.file}) may govern the same claims and sets different defaults; narrow one's match.namespaces or exclude the other's namespaces`,
      );
    const [classesA, classesB] = [a.storageClasses?.allowed, b.storageClasses?.allowed];
    if (classesA && classesB && !classesA.some((name) => classesB.includes(name)))
      report(
        'error',
        'no-admissible-class',
        b,
        ['spec', 'storageClasses', 'allowed'],
        `no class is allowed by both this policy and ${a.name} (${classesA.join(', ')}); every claim governed by both is denied`,
      );
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
  },
  inventory(policy, inventory, report) {
    const capabilities = buildCapabilityTable(policy.accessModes?.capabilities);
    const classes = inventory.storageClasses();
    const clusterDefault = classes.known ? pickClusterDefault(classes.value) : undefined;
    if (policy.storageClasses?.required && clusterDefault && policy.match.kinds.includes('PersistentVolumeClaim'))
      report(
        'warning',
        'required-unenforceable',
        policy,
        ['spec', 'storageClasses', 'required'],
        `the cluster default class ${clusterDefault.name} is set on claims by the API server before any webhook sees them, so required is enforced on StatefulSet templates only`,
      );
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
  },
};

export const storageClassFamily: RuleFamily = {
  name: 'storage-class',
  sections: ['storageClasses'],
  ruleIds: [
    'storage-class/allowed',
    'storage-class/single-default',
    'storage-class/denied',
    'storage-class/required',
    'storage-class/empty-class',
    'storage-class/missing',
  ],
  factRules: [],
  mutations: [
    { id: 'storage-class/default', serves: ['storage-class/required'] },
    { id: 'storage-class/fallback', serves: ['storage-class/allowed', 'storage-class/denied'] },
    // An immutable field the manifest leaves out is kept, whatever the policies say: the write is otherwise refused.
    { id: 'storage-class/restore', serves: [], fact: true },
  ],
  claimFields: ['spec.storageClassName', 'metadata.annotations'],
  describe,
  validate: {
    ...forClaimKinds(validateClaims),
    StorageClass: validateStorageClass,
    PersistentVolume: validateVolume,
  },
  mutate: { PersistentVolumeClaim: mutateClaims, StatefulSet: mutateClaims },
  checkPolicy,
  lint: storageClassLint,
};
