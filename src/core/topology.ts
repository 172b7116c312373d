import { parameterKey } from './capabilities.js';
import { arrayAt, stringAt, stringsOf, type JsonValue } from './json.js';

export const ZONE_LABEL = 'topology.kubernetes.io/zone';
export const DEPRECATED_ZONE_LABEL = 'failure-domain.beta.kubernetes.io/zone';

/**
 * Label keys that name a zone in StorageClass allowedTopologies, generic and driver-specific. EBS also takes
 * zone IDs (topology.k8s.aws/zone-id: use1-az1): a policy that allows such classes lists the IDs in
 * zones.allowed beside the names.
 */
export const ZONE_TOPOLOGY_KEYS: ReadonlySet<string> = new Set([
  ZONE_LABEL,
  DEPRECATED_ZONE_LABEL,
  'topology.ebs.csi.aws.com/zone',
  'topology.k8s.aws/zone-id',
  'topology.gke.io/zone',
  'topology.disk.csi.azure.com/zone',
]);

/** The key a webhook-added allowedTopologies term uses for each driver. */
export function zoneTopologyKeyFor(provisioner: string): string {
  switch (provisioner) {
    case 'pd.csi.storage.gke.io':
      return 'topology.gke.io/zone';
    case 'disk.csi.azure.com':
      return 'topology.disk.csi.azure.com/zone';
    default:
      return ZONE_LABEL;
  }
}

/** In-tree provisioners that take the deprecated `zone`/`zones` parameters. */
const IN_TREE_ZONE_PARAMETER_PROVISIONERS: ReadonlySet<string> = new Set([
  'kubernetes.io/aws-ebs',
  'kubernetes.io/gce-pd',
]);

/**
 * The in-tree `zone`/`zones` parameters as csi-translation-lib reads them (plugins/aws_ebs.go, gce_pd.go):
 * keys compared lower-cased, `zones` split at commas with nothing trimmed (a space stays part of the zone).
 */
export function zoneParameters(
  provisioner: string,
  parameters: Record<string, string>,
): { key: string; zones: string[] } | undefined {
  if (!IN_TREE_ZONE_PARAMETER_PROVISIONERS.has(provisioner)) return undefined;
  const zones = parameterKey(parameters, 'zones');
  const zone = parameterKey(parameters, 'zone');
  const key = zones ?? zone;
  if (key === undefined) return undefined;
  const text = parameters[key] ?? '';
  return { key, zones: key === zones ? text.split(',') : [text] };
}

/** The in-tree `zone`/`zones` parameter keys a class sets, as csi-translation-lib matches them (lower-cased). */
export function zoneParameterKeys(provisioner: string, parameters: Record<string, string>): string[] {
  if (!IN_TREE_ZONE_PARAMETER_PROVISIONERS.has(provisioner)) return [];
  return Object.keys(parameters).filter((key) => ['zone', 'zones'].includes(key.toLowerCase()));
}

/**
 * Settings csi-translation-lib cannot translate: zone/zones together with allowedTopologies is an error, and
 * zone with zones leaves it to map order which one wins. Either way the class does not provision as written.
 */
export function zoneTranslationProblem(
  provisioner: string,
  parameters: Record<string, string>,
  allowedTopologies: JsonValue[] | undefined,
): string | undefined {
  const keys = zoneParameterKeys(provisioner, parameters);
  if (keys.length > 1)
    return `${keys.join(' and ')} together: the CSI translation uses whichever it reads last; keep one`;
  if (keys.length === 1 && allowedTopologies && allowedTopologies.length > 0)
    return `${keys[0] ?? 'zone'} with allowedTopologies: the CSI translation refuses the class ("cannot simultaneously set allowed topologies and zone/zones parameters"); keep allowedTopologies`;
  return undefined;
}

/**
 * Zones one allowedTopologies term admits. Expressions within a term are ANDed, so several zone
 * expressions intersect; a term without a zone expression does not restrict the zone at all.
 */
function zonesOfTerm(term: JsonValue): string[] | undefined {
  let zones: string[] | undefined;
  for (const expression of arrayAt(term, 'matchLabelExpressions') ?? []) {
    const key = stringAt(expression, 'key');
    if (key === undefined || !ZONE_TOPOLOGY_KEYS.has(key)) continue;
    const values = stringsOf(arrayAt(expression, 'values'));
    zones = zones === undefined ? values : zones.filter((zone) => values.includes(zone));
  }
  return zones;
}

/**
 * Where a class may provision: the union over allowedTopologies terms (terms are ORed), narrowed by
 * the in-tree zone parameters. undefined means unrestricted.
 */
export function zonesOfStorageClass(
  provisioner: string,
  parameters: Record<string, string>,
  allowedTopologies: JsonValue[] | undefined,
): string[] | undefined {
  let zones: string[] | undefined;
  if (allowedTopologies && allowedTopologies.length > 0) {
    const union = new Set<string>();
    let unrestricted = false;
    for (const term of allowedTopologies) {
      const termZones = zonesOfTerm(term);
      if (termZones === undefined) unrestricted = true;
      else termZones.forEach((zone) => union.add(zone));
    }
    zones = unrestricted ? undefined : [...union];
  }
  const fromParameters = zoneParameters(provisioner, parameters)?.zones;
  if (fromParameters !== undefined)
    zones = zones === undefined ? fromParameters : zones.filter((zone) => fromParameters.includes(zone));
  return zones;
}
