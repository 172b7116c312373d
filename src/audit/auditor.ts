import { arrayAt, isObject, stringAt, type JsonObject } from '../core/json.js';
import { governedKindOfManifest, isAuditedKind, isClusterScoped, podSpecOf } from '../core/kinds.js';
import { carriesJudgedVolumes, trimmedSubjectOf } from '../core/subjects.js';
import { isProvisionedVolume, unusedConditionOf, unusedSince as unusedSinceOf } from '../core/volumes.js';
import type { Engine } from '../engine/engine.js';
import { auditObject, reportsOf, type AuditedObject, type PolicyReport } from './reports.js';

/**
 * Whether the audit keeps a workload: one whose pod template carries a generic ephemeral or CSI inline volume, and
 * that no audited workload controls (a CronJob's Jobs are judged as the CronJob). The rest, most Deployments of a
 * cluster, no rule judges: not kept, so auditing workloads costs memory only for the ones that matter.
 */
function judgedAsWritten(object: JsonObject): boolean {
  const kind = governedKindOfManifest(object);
  if (!kind || kind === 'StatefulSet' || podSpecOf(kind) === undefined) return true;
  const owners = arrayAt(object, 'metadata', 'ownerReferences') ?? [];
  const controlled = owners.some(
    (owner) => isObject(owner) && owner['controller'] === true && isAuditedKind(stringAt(owner, 'kind') ?? ''),
  );
  return !controlled && carriesJudgedVolumes(object);
}

function keyOf(object: JsonObject): string | undefined {
  const kind = governedKindOfManifest(object);
  const name = stringAt(object, 'metadata', 'name');
  if (!kind || !name) return undefined;
  return `${kind}/${isClusterScoped(kind) ? '' : (stringAt(object, 'metadata', 'namespace') ?? '')}/${name}`;
}

/**
 * A report's results as JSON text outside the JavaScript heap. As objects, 10,000 claims' results were about 38 MB
 * of heap that every major collection traced; as strings, half the live heap, which V8 sizes its next collection by.
 * In a buffer of its own (not a slice of Buffer's shared pool, which one kept entry would pin whole) the text costs
 * the collector nothing. A subject, smaller and kept by every auditor, stays a string: a Buffer's wrapper objects
 * cost more heap (about 330 bytes an object) than the text itself.
 */
function offHeap(value: unknown): Buffer {
  const text = JSON.stringify(value);
  const buffer = Buffer.allocUnsafeSlow(Buffer.byteLength(text));
  buffer.write(text);
  return buffer;
}

function fromOffHeap(buffer: Buffer): unknown {
  return JSON.parse(buffer.toString('utf8'));
}

interface Subject {
  namespace: string;
  /** The stripped object as JSON text. */
  json: string;
  /** A bound claim no pod uses: since when (its Unused condition's transition), for when it turns idle. */
  unusedSince?: number;
}

/**
 * One object's verdict as kept between runs: the policy and rule of each result that is not a pass, for the
 * metrics, and, when reports are written, its results as JSON text (parsed again only when reports are built).
 * 10,000 claims' results held as objects were about 38 MB of heap that every major collection traced; as text
 * they are still about 17 MB outside it (1.6 KB an object), which a webhook that writes no reports does not keep.
 */
interface StoredResults {
  namespace: string;
  /** With the results (keepResults): where the object's results go in its namespace's report. */
  reported: { sortKey: string; results: Buffer } | undefined;
  violations: Violations;
  /** A claim's monthly cost at list price (its results' monthlyCost property), for the cost metric. */
  cost: { amount: number; currency: string } | undefined;
  /** Reported idle (rule cost/idle) by a governing policy: its cost counts as idle. */
  idle: boolean;
}

/** The monthly cost an object's results carry (a claim's; every result of it carries the same). */
function costOf(results: ReadonlyArray<{ properties?: Record<string, string> }>): StoredResults['cost'] {
  const text = results.find((result) => result.properties?.['monthlyCost'] !== undefined)?.properties?.['monthlyCost'];
  if (text === undefined) return undefined;
  const [amount, currency] = text.split(' ');
  return { amount: Number(amount), currency: currency ?? '' };
}

/** The policy and rule of each result that is not a pass. */
type Violations = ReadonlyArray<readonly [policy: string, rule: string]>;

interface AuditorOptions {
  /** Keep every result for reports(); without, an auditor keeps what violations() counts and no more. */
  keepResults: boolean;
}

/**
 * The audited objects and their results, updated in place: changes mark what must be judged again (one
 * object, a namespace, or everything) and `run` judges just that. The namespace is the unit for a claim's
 * change because the namespace budgets make every claim's verdict depend on its neighbours.
 */
export class Auditor {
  private readonly subjects = new Map<string, Subject>();
  private readonly audited = new Map<string, StoredResults>();
  private readonly dirtyNamespaces = new Set<string>();
  private everything = true;
  /** Keys the run under way has still to judge. */
  private readonly queue: string[] = [];
  /**
   * One instance of each namespace name and each list of violations: most objects of a namespace fail the same
   * rules, so 100,000 claims share a few hundred lists instead of holding 100,000 (about 300 bytes of heap each).
   */
  private readonly shared = new Map<string, Violations>();
  private readonly namespaces = new Map<string, string>();
  private sawBoundClaim = false;
  private sawUnusedCondition = false;

  constructor(private readonly options: AuditorOptions = { keepResults: true }) {}

  get size(): number {
    return this.subjects.size;
  }

  get pending(): boolean {
    return this.everything || this.dirtyNamespaces.size > 0;
  }

  /**
   * Adds or replaces a governed object; anything else is ignored, and so is a volume a provisioner made (never
   * judged: its claim was), which on most clusters is every volume, and a workload with nothing the rules judge.
   */
  upsert(object: JsonObject): void {
    const key = keyOf(object);
    if (!key || isProvisionedVolume(object)) return;
    if (!judgedAsWritten(object)) {
      this.remove(object);
      return;
    }
    this.noteUnusedCondition(object);
    const unusedSince = unusedSinceOf(object);
    const subject: Subject = {
      namespace: this.namespaceOf(key.split('/')[1] ?? ''),
      json: JSON.stringify(trimmedSubjectOf(object)),
      ...(unusedSince === undefined ? {} : { unusedSince }),
    };
    this.subjects.set(key, subject);
    this.dirtyNamespaces.add(subject.namespace);
  }

  remove(object: JsonObject): void {
    const key = keyOf(object);
    if (!key) return;
    const subject = this.subjects.get(key);
    this.subjects.delete(key);
    this.audited.delete(key);
    if (subject) this.dirtyNamespaces.add(subject.namespace);
  }

  /** Everything of one kind, as a fresh list has it. */
  replaceKind(kind: string, objects: JsonObject[]): void {
    for (const [key] of this.subjects) {
      if (key.startsWith(`${kind}/`)) {
        this.subjects.delete(key);
        this.audited.delete(key);
      }
    }
    for (const object of objects) this.upsert(object);
    this.everything = true;
  }

  /** A change every verdict may depend on: a class, a node's zone, the policy set. */
  invalidateAll(): void {
    this.everything = true;
  }

  invalidateNamespace(namespace: string): void {
    this.dirtyNamespaces.add(namespace);
  }

  /** Judges everything changes marked, at once; returns how many objects were judged (the CLI, tests). */
  run(engine: Engine, now = new Date()): number {
    const judged = this.begin();
    this.continueRun(engine, Number.POSITIVE_INFINITY, now);
    return judged;
  }

  /**
   * Starts a run: takes what changes marked as the run's work (later changes wait for the next run) and returns
   * how many objects that is. A run already under way keeps its work.
   */
  begin(): number {
    if (this.queue.length === 0) {
      // A full run judges every object again: lists nothing refers to any more (a policy reloaded, a namespace gone)
      // are dropped with the map instead of kept for the life of the process.
      if (this.everything) this.shared.clear();
      for (const [key, subject] of this.subjects)
        if (this.everything || this.dirtyNamespaces.has(subject.namespace)) this.queue.push(key);
      this.everything = false;
      this.dirtyNamespaces.clear();
    }
    return this.queue.length;
  }

  /**
   * Judges the run's work with `engine` for at most `budgetMs` of wall time; true when it is done. The server
   * calls it in slices, so a full audit of a large cluster never holds the event loop that admission shares.
   */
  continueRun(engine: Engine, budgetMs: number, now = new Date()): boolean {
    const seconds = Math.floor(now.getTime() / 1000);
    const deadline = performance.now() + budgetMs;
    while (this.queue.length > 0) {
      const key = this.queue.pop() ?? '';
      const subject = this.subjects.get(key);
      // Removed since the run began.
      if (!subject) continue;
      const audited = auditObject(engine, JSON.parse(subject.json) as JsonObject, seconds);
      if (audited) {
        this.audited.set(key, {
          namespace: this.namespaceOf(audited.namespace),
          reported: this.options.keepResults
            ? { sortKey: audited.sortKey, results: offHeap(audited.results) }
            : undefined,
          violations: this.sharedViolations(audited.results),
          cost: costOf(audited.results),
          idle: audited.results.some((result) => result.rule === 'cost/idle' && result.result !== 'pass'),
        });
      } else {
        this.audited.delete(key);
      }
      if (performance.now() > deadline) break;
    }
    return this.queue.length === 0;
  }

  reports(namespace?: string): PolicyReport[] {
    if (!this.options.keepResults) throw new Error('this auditor keeps no results to report (keepResults: false)');
    const entries: AuditedObject[] = [];
    for (const entry of this.audited.values()) {
      if (!entry.reported || (namespace !== undefined && entry.namespace !== namespace)) continue;
      const results = fromOffHeap(entry.reported.results) as PolicyReport['results'];
      entries.push({ namespace: entry.namespace, sortKey: entry.reported.sortKey, results });
    }
    return reportsOf(entries);
  }

  private namespaceOf(name: string): string {
    const known = this.namespaces.get(name);
    if (known !== undefined) return known;
    this.namespaces.set(name, name);
    return name;
  }

  private sharedViolations(results: ReadonlyArray<{ policy: string; rule: string; result: string }>): Violations {
    const violations = results
      .filter((result) => result.result !== 'pass')
      .map((result) => [result.policy, result.rule] as const);
    const key = violations.map(([policy, rule]) => `${policy}\u0000${rule}`).join('\u0001');
    const known = this.shared.get(key);
    if (known) return known;
    this.shared.set(key, violations);
    return violations;
  }

  /**
   * Whether the cluster reports the Unused condition on bound claims (Kubernetes 1.37's PVC-protection controller, gate
   * PersistentVolumeClaimUnusedSinceTime): true once a bound claim carried it, false when bound claims were seen and
   * none did, undefined before any bound claim. A property of the cluster, so it is latched, not kept per claim.
   */
  unusedConditionReported(): boolean | undefined {
    return this.sawUnusedCondition ? true : this.sawBoundClaim ? false : undefined;
  }

  private noteUnusedCondition(object: JsonObject): void {
    if (stringAt(object, 'kind') !== 'PersistentVolumeClaim' || stringAt(object, 'status', 'phase') !== 'Bound') return;
    this.sawBoundClaim = true;
    if (unusedConditionOf(object)) this.sawUnusedCondition = true;
  }

  /** The bound claims no pod uses and since when, by namespace: when the next one may cross a policy's idleAfter. */
  unusedClaims(): Array<{ namespace: string; since: number }> {
    const claims: Array<{ namespace: string; since: number }> = [];
    for (const { namespace, unusedSince } of this.subjects.values())
      if (unusedSince !== undefined) claims.push({ namespace, since: unusedSince });
    return claims;
  }

  /** What each namespace's claims cost a month at list price (the audit's cost metric), with or without results kept. */
  monthlyCosts(): Map<string, { total: number; currency: string }> {
    return this.costsOf(() => true);
  }

  /** What each namespace's idle claims (rule cost/idle) cost a month: the idle-cost metric. */
  idleMonthlyCosts(): Map<string, { total: number; currency: string }> {
    return this.costsOf((entry) => entry.idle);
  }

  private costsOf(counted: (entry: StoredResults) => boolean): Map<string, { total: number; currency: string }> {
    const costs = new Map<string, { total: number; currency: string }>();
    for (const entry of this.audited.values()) {
      const { namespace, cost } = entry;
      if (!cost || !counted(entry)) continue;
      const sum = costs.get(namespace) ?? { total: 0, currency: cost.currency };
      sum.total += cost.amount;
      costs.set(namespace, sum);
    }
    return costs;
  }

  /** Results that are not pass, counted by policy, rule and namespace (the audit's violations metric). */
  violations(): Map<string, { policy: string; rule: string; namespace: string; count: number }> {
    const counts = new Map<string, { policy: string; rule: string; namespace: string; count: number }>();
    for (const { namespace, violations } of this.audited.values()) {
      for (const [policy, rule] of violations) {
        const key = `${policy}\u0000${rule}\u0000${namespace}`;
        const count = counts.get(key);
        if (count) count.count += 1;
        else counts.set(key, { policy, rule, namespace, count: 1 });
      }
    }
    return counts;
  }
}
