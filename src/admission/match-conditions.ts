import type { ClaimField, RuleFamily } from '../rules/contract.js';

// The matchConditions of the webhook configurations (admissionregistration.k8s.io/v1, GA in 1.30), generated from
// what the rule families declare they read, so that the configurations follow the code: deploy/ and the chart
// carry this expression, and a unit test fails when they differ.

/** Annotations the volume controllers write on claims (binding, provisioning, scheduling): never judged. */
const CONTROLLER_ANNOTATION =
  "k.startsWith('pv.kubernetes.io/') || k.startsWith('volume.kubernetes.io/') || k == 'volume.beta.kubernetes.io/storage-provisioner'";

function changed(field: ClaimField): string {
  const [section, name] = field.split('.') as [string, string];
  const now = `object.${section}`;
  const before = `oldObject.${section}`;
  if (field !== 'metadata.annotations')
    return `has(${now}.${name}) != has(${before}.${name}) || (has(${now}.${name}) && ${now}.${name} != ${before}.${name})`;
  // Compared key by key in both directions, so map order never matters and the controllers' keys are left out.
  const kept = (object: string, other: string): string =>
    `(has(${object}.metadata.annotations) && !${object}.metadata.annotations.all(k, ${CONTROLLER_ANNOTATION} || (has(${other}.metadata.annotations) && k in ${other}.metadata.annotations && ${other}.metadata.annotations[k] == ${object}.metadata.annotations[k])))`;
  return `${kept('object', 'oldObject')} || ${kept('oldObject', 'object')}`;
}

/**
 * One condition: every request but a claim UPDATE is sent; a claim UPDATE only when a field some family reads has
 * changed. An UPDATE that changes none cannot change the decision (findings oldObject had are only warned).
 */
export function claimUpdateCondition(families: readonly RuleFamily[]): { name: string; expression: string } {
  const fields = [...new Set(families.flatMap((family) => family.claimFields))].sort();
  const anyChanged = fields.map((field) => `(${changed(field)})`).join(' || ');
  return {
    name: 'claim-update-changes-judged-fields',
    expression: `request.resource.resource != 'persistentvolumeclaims' || request.operation != 'UPDATE' || ${anyChanged}`,
  };
}
